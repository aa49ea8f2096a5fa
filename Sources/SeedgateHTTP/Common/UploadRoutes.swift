import Foundation
import Hummingbird
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// `POST /v1/uploads`: a file from the caller's machine into the blob store, as a raw body or the first
/// file of a multipart form, streamed to disk (never held in memory whole), probed on arrival (a file
/// that is not an image, video or audio ffprobe can read, or not the type asked for, is refused before
/// it is stored), held to the asset size limits and the key's quota, and answered with a signed link
/// usable wherever a media URL is: by this key only, until the upload expires.
package struct UploadRoutes {
    package let store: any UploadStore
    package let blobs: any BlobStore
    package let signer: URLSigner
    package let scratchDirectory: String
    package let quota: Int64
    package let retention: Duration
    package let probe: @Sendable (String) async throws(Failure) -> MediaFacts

    package init(
        store: any UploadStore, blobs: any BlobStore, signer: URLSigner, scratchDirectory: String, quota: Int64, retention: Duration,
        probe: @escaping @Sendable (String) async throws(Failure) -> MediaFacts
    ) {
        self.store = store
        self.blobs = blobs
        self.signer = signer
        self.scratchDirectory = scratchDirectory
        self.quota = quota
        self.retention = retention
        self.probe = probe
    }

    /// The largest file of any type (video, 50 MB), and room for a multipart form's own lines.
    package static let maxBody = MediaRequirements.maxBytes(for: .video) + 64 * 1024

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("uploads") { request, context in try await upload(request, context) }
    }

    private func upload(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let query = request.uri.queryParameters
        let expected = try query.get("type").map { value throws(SeedgateError) in try AssetRules.mediaType(value, field: "type") }
        guard try await store.uploadBytes(keyID: context.key.id) < quota else {
            throw SeedgateError(.rateLimited, code: "upload_quota_exceeded",
                                message: "file: this key's uploads hold its whole quota of \(quota) bytes until older ones expire", param: "file", retryAfter: 3600)
        }
        let id = "upl_" + Identifiers.random(24).lowercased()
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        let raw = "\(scratchDirectory)/upload-\(id).part"
        defer { try? FileManager.default.removeItem(atPath: raw) }
        try await Self.receive(request.body, to: raw, limit: Self.maxBody)

        var file = raw
        var filename = query.get("filename")
        if let name = filename, name.count > 255 || name.contains(where: { $0.isNewline || $0 == "\u{0}" }) {
            throw SeedgateError.invalid("filename", "must be at most 255 characters on one line")
        }
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = MultipartFile.boundary(of: contentType) else {
                throw SeedgateError.invalid("Content-Type", "a multipart form needs its boundary")
            }
            let part = "\(scratchDirectory)/upload-\(id).file"
            filename = try MultipartFile.extractFirstFile(from: raw, boundary: boundary, to: part).map { String($0.prefix(255)) } ?? filename
            file = part
        }
        defer { if file != raw { try? FileManager.default.removeItem(atPath: file) } }

        let facts: MediaFacts
        do throws(Failure) {
            facts = try await probe(file)
        } catch {
            throw SeedgateError.invalid("file", error.message, code: "unsupported_media")
        }
        if let expected, facts.kind != expected {
            throw SeedgateError.invalid("file", "is \(facts.kind == .image ? "an" : "a") \(facts.kind.rawValue) (\(facts.format)), not the \(expected.rawValue) asked for", code: "wrong_media_type")
        }
        let limit = MediaRequirements.maxBytes(for: facts.kind)
        guard facts.byteCount <= limit else {
            throw SeedgateError(.payloadTooLarge, code: "file_too_large",
                                message: "file: a \(facts.kind.rawValue) of \(facts.byteCount) bytes is over the \(facts.kind == .image ? "30 MB (less than)" : "\(limit / MediaRequirements.megabyte) MB") limit",
                                param: "file")
        }
        let ext = Self.fileExtension(facts.format)
        let now = signer.clock.now
        let upload = Upload(
            id: id, keyID: context.key.id, blobKey: Upload.blobKey(keyID: context.key.id, id: id, ext: ext), mediaType: facts.kind,
            size: facts.byteCount, contentType: BlobKey.contentType("x.\(ext)"), filename: filename.map { String($0.prefix(255)) },
            createdAt: now, expiresAt: now.addingTimeInterval(retention.seconds)
        )
        try await blobs.put(file: file, key: upload.blobKey)
        do {
            try await store.insertUpload(upload, quota: quota)
        } catch {
            try? await blobs.delete(key: upload.blobKey)
            throw error
        }
        context.logger.info("file uploaded", metadata: ["upload": "\(id)", "type": "\(facts.kind.rawValue)", "bytes": "\(facts.byteCount)"])
        return WireJSON.response(Apimart.envelope(.obj([
            "id": .string(upload.id),
            "url": .string(signer.url(for: upload.blobKey, expires: upload.expiresAt)),
            "media_type": .string(upload.mediaType.rawValue),
            "format": .string(facts.format),
            "size": .int(upload.size),
            "content_type": .string(upload.contentType),
            "filename": upload.filename.map(JSONOut.string),
            "width": facts.width.map { .int($0) },
            "height": facts.height.map { .int($0) },
            "duration": facts.duration.map(JSONOut.double),
            "expires_at": .int(Int64(upload.expiresAt.timeIntervalSince1970)),
        ])))
    }

    /// Bytes read and dropped past the limit before the 413 is sent.
    static let lingering: Int64 = 16 * 1024 * 1024

    /// Writes the body to `path` as it arrives; past `limit` bytes the upload is refused with 413.
    static func receive(_ body: RequestBody, to path: String, limit: Int64) async throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw SeedgateError.internalError("could not write a temporary file")
        }
        defer { try? handle.close() }
        var total: Int64 = 0
        do {
            for try await chunk in body {
                total += Int64(chunk.readableBytes)
                // Past the limit nothing more is written, but a little more is read and dropped, so that
                // a client still sending the rest of a slightly-too-large file gets the 413, not a reset.
                if total > limit + lingering { break }
                if total <= limit { try handle.write(contentsOf: Data(buffer: chunk)) }
            }
        } catch let error as CocoaError {
            // A full disk or a failing write: the request is not completed, the process goes on.
            throw SeedgateError(.serviceUnavailable, code: "storage_unavailable", message: "the upload could not be written (\(error.code.rawValue)); try again later", retryAfter: 30)
        } catch {
            throw SeedgateError(.invalidRequest, code: "invalid_body", message: "the upload could not be read whole (malformed or cut short)")
        }
        guard total <= limit else {
            throw SeedgateError(.payloadTooLarge, code: "file_too_large",
                                message: "file: the upload passed \(limit) bytes; files may be at most 30 MB (images), 50 MB (videos), 15 MB (audio)", param: "file")
        }
        guard total > 0 else { throw SeedgateError.invalid("file", "the upload is empty; send the file as the body or as a multipart form's file") }
    }

    /// The stored file's extension for an ffprobe format name.
    static func fileExtension(_ format: String) -> String {
        let known = ["jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "bmp": "bmp", "tiff": "tiff", "heif": "heic", "heic": "heic",
                     "mp4": "mp4", "mov": "mov", "webm": "webm", "matroska": "mkv", "wav": "wav", "mp3": "mp3", "m4a": "m4a", "aac": "aac",
                     "ogg": "ogg", "flac": "flac"]
        if let ext = known[format] { return ext }
        let cleaned = format.lowercased().filter { $0.isLetter || $0.isNumber }
        return cleaned.isEmpty ? "bin" : String(cleaned.prefix(8))
    }
}

/// The first file of a multipart/form-data body, copied out of a file on disk a chunk at a time.
enum MultipartFile {
    static func boundary(of contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix("boundary=") else { continue }
            var value = String(pair.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.utf8.count > 200 ? nil : value
        }
        return nil
    }

    /// Copies the first part that has a filename (or the first part at all) to `destination`; returns
    /// its filename. Form fields before it (up to 4 KB each) are given to `field` by name.
    static func extractFirstFile(
        from source: String, boundary: String, to destination: String, field: ((String, String) -> Void)? = nil
    ) throws -> String? {
        guard let input = FileHandle(forReadingAtPath: source) else { throw SeedgateError.internalError("could not read the upload") }
        defer { try? input.close() }
        let delimiter = Data("--\(boundary)".utf8)
        let partEnd = Data("\r\n--\(boundary)".utf8)
        let chunkSize = 1 << 20
        var buffer = Data()
        func fill() -> Bool {
            let chunk = input.readData(ofLength: chunkSize)
            buffer.append(chunk)
            return !chunk.isEmpty
        }
        let malformed = SeedgateError.invalid("file", "the multipart form is malformed; send one file part", code: "invalid_body")
        // The first delimiter, then parts until one with a filename.
        while buffer.range(of: delimiter) == nil { guard buffer.count < 64 * 1024, fill() else { throw malformed } }
        buffer.removeSubrange(..<buffer.range(of: delimiter)!.upperBound)
        while true {
            while buffer.range(of: Data("\r\n\r\n".utf8)) == nil { guard buffer.count < 64 * 1024, fill() else { throw malformed } }
            let headerEnd = buffer.range(of: Data("\r\n\r\n".utf8))!
            let headers = String(decoding: buffer[buffer.startIndex..<headerEnd.lowerBound], as: UTF8.self)
            buffer.removeSubrange(..<headerEnd.upperBound)
            let filename = headers.range(of: "filename=\"").map { range in String(headers[range.upperBound...].prefix { $0 != "\"" }) }
            guard FileManager.default.createFile(atPath: destination, contents: nil), let output = FileHandle(forWritingAtPath: destination) else {
                throw SeedgateError.internalError("could not write a temporary file")
            }
            defer { try? output.close() }
            // Copy until the part's end, keeping back a delimiter's length that may straddle two chunks.
            while true {
                if let end = buffer.range(of: partEnd) {
                    try output.write(contentsOf: buffer[buffer.startIndex..<end.lowerBound])
                    buffer.removeSubrange(..<end.upperBound)
                    break
                }
                let keep = partEnd.count
                if buffer.count > keep {
                    try output.write(contentsOf: buffer[buffer.startIndex..<(buffer.endIndex - keep)])
                    buffer.removeSubrange(..<(buffer.endIndex - keep))
                }
                guard fill() else { throw malformed }
            }
            if filename != nil { return filename }
            if let field, let name = headers.range(of: "name=\"").map({ range in String(headers[range.upperBound...].prefix { $0 != "\"" }) }),
               let size = try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int, size <= 4096,
               let value = FileManager.default.contents(atPath: destination) {
                field(name, String(decoding: value, as: UTF8.self))
            }
            // A form field before the file: look at the next part, unless this was the last.
            while buffer.count < 2 { guard fill() else { throw malformed } }
            if buffer.starts(with: Data("--".utf8)) { return nil }
        }
    }
}
