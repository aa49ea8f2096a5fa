import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Downloads media from a client's URL into a local file, under a size cap and timeouts, following
/// redirects by hand so that every hop passes the URL guard.
public struct MediaFetcher: Sendable {
    package let http: GuardedClient
    package var maxRedirects = 5
    package var timeout: TimeAmount = .seconds(60)
    /// Seedgate's own signed links (uploads, results) are read from its blob store, never over the network.
    package var ownFiles: (signer: URLSigner, blobs: any BlobStore)?

    public init(http: GuardedClient, ownFiles: (signer: URLSigner, blobs: any BlobStore)? = nil) {
        self.http = http
        self.ownFiles = ownFiles
    }

    /// What one request of a fetch came to.
    private enum Hop: Sendable {
        case redirect(to: String)
        case fetched(bytes: Int64)
    }

    /// Fetches `url` to `destination` and returns the byte count. A declared `Content-Length` over
    /// `maxBytes` is refused before the body is read; a body that grows past it is cut off.
    public func fetch(_ url: String, maxBytes: Int64, what: MediaType, to destination: String) async throws(Failure) -> Int64 {
        if let own = ownFiles, let key = own.signer.blobKey(ofLink: url) {
            return try await copyOwn(key, from: own.blobs, maxBytes: maxBytes, what: what, to: destination)
        }
        var current = url
        for _ in 0...maxRedirects {
            let hop: Hop
            do {
                hop = try await http.withClient(for: current, field: "url") { parsed, client in
                    var request = HTTPClientRequest(url: current)
                    request.method = .GET
                    request.headers.add(name: "User-Agent", value: "Seedgate/1 (media review)")
                    let response: HTTPClientResponse
                    do {
                        response = try await client.execute(request, timeout: timeout)
                    } catch {
                        throw Failure(code: "fetch_failed", message: "could not fetch \(Self.redact(current)): \(Self.describe(error))")
                    }
                    if [301, 302, 303, 307, 308].contains(Int(response.status.code)) {
                        guard let location = response.headers.first(name: "Location"),
                              let next = URL(string: location, relativeTo: parsed)?.absoluteString
                        else {
                            throw Failure(code: "fetch_failed", message: "redirect from \(Self.redact(current)) has no Location")
                        }
                        return .redirect(to: next)
                    }
                    guard response.status == .ok else {
                        throw Failure(code: "fetch_failed", message: "fetching \(Self.redact(current)) returned HTTP \(response.status.code)")
                    }
                    if let declared = response.headers.first(name: "Content-Length").flatMap(Int64.init), declared > maxBytes {
                        throw tooLarge(what, maxBytes, detail: "its Content-Length is \(declared) bytes")
                    }
                    return .fetched(bytes: try await write(response.body, to: destination, maxBytes: maxBytes, what: what))
                }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(code: "fetch_failed", message: "could not fetch \(Self.redact(current)): \(Self.describe(error))")
            }
            switch hop {
            case .redirect(let next): current = next
            case .fetched(let bytes): return bytes
            }
        }
        throw Failure(code: "fetch_failed", message: "more than \(maxRedirects) redirects from \(Self.redact(url))")
    }

    /// One of our own files, streamed from the blob store into `destination`.
    private func copyOwn(_ key: String, from blobs: any BlobStore, maxBytes: Int64, what: MediaType, to destination: String) async throws(Failure) -> Int64 {
        do {
            guard let size = try await blobs.size(of: key) else {
                throw Failure(code: "fetch_failed", message: "the uploaded file is gone (past its retention)")
            }
            if size > maxBytes { throw tooLarge(what, maxBytes, detail: "it is \(size) bytes") }
            guard FileManager.default.createFile(atPath: destination, contents: nil), let handle = FileHandle(forWritingAtPath: destination) else {
                throw Failure(code: "internal_error", message: "could not write a temporary file")
            }
            defer { try? handle.close() }
            if size > 0, let content = try await blobs.read(key: key, range: 0...(size - 1)) {
                try await content.write { chunk in handle.write(Data(buffer: chunk)) }
            }
            return size
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(code: "fetch_failed", message: "could not read the uploaded file from the blob store")
        }
    }

    private func write(_ body: HTTPClientResponse.Body, to destination: String, maxBytes: Int64, what: MediaType) async throws(Failure) -> Int64 {
        guard FileManager.default.createFile(atPath: destination, contents: nil),
              let handle = FileHandle(forWritingAtPath: destination)
        else {
            throw Failure(code: "internal_error", message: "could not write a temporary file")
        }
        defer { try? handle.close() }
        var total: Int64 = 0
        do {
            for try await chunk in body {
                total += Int64(chunk.readableBytes)
                if total > maxBytes {
                    throw tooLarge(what, maxBytes, detail: "the download passed \(maxBytes) bytes")
                }
                try handle.write(contentsOf: chunk.readableBytesView)
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(code: "fetch_failed", message: "download was interrupted: \(Self.describe(error))")
        }
        return total
    }

    private func tooLarge(_ what: MediaType, _ maxBytes: Int64, detail: String) -> Failure {
        let limit = what == .image ? "smaller than 30 MB" : "at most \(maxBytes / MediaRequirements.megabyte) MB"
        return Failure(code: "file_too_large", message: "\(what.rawValue) is too large (\(detail)); it must be \(limit)")
    }

    /// URLs in messages without their query strings, which often carry signatures.
    package static func redact(_ url: String) -> String {
        String(url.prefix { $0 != "?" })
    }

    package static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout { return "timed out" }
            if error == .connectTimeout { return "connection timed out" }
        }
        return String(describing: error)
    }
}
