import Foundation

/// A file a key sent to `POST /v1/uploads`, kept in the blob store until `expiresAt` and usable as a
/// media URL (a signed link) by that key only.
public struct Upload: Sendable, Equatable {
    public var id: String
    public var keyID: String
    public var blobKey: String
    public var mediaType: MediaType
    public var size: Int64
    public var contentType: String
    public var filename: String?
    public var createdAt: Date
    public var expiresAt: Date

    package init(
        id: String, keyID: String, blobKey: String, mediaType: MediaType, size: Int64, contentType: String, filename: String?,
        createdAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.keyID = keyID
        self.blobKey = blobKey
        self.mediaType = mediaType
        self.size = size
        self.contentType = contentType
        self.filename = filename
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Where a key's uploads live in the blob store: `uploads/<key id>/<upload id>.<ext>`.
    public static func blobKey(keyID: String, id: String, ext: String) -> String { "uploads/\(keyID)/\(id).\(ext)" }

    /// The key that owns the upload stored under `blobKey`, when it is one.
    public static func owner(ofBlobKey blobKey: String) -> String? {
        let parts = blobKey.split(separator: "/")
        guard parts.count == 3, parts[0] == "uploads" else { return nil }
        return String(parts[1])
    }
}

/// Uploaded files and each key's share of the upload quota.
public protocol UploadStore: Sendable {
    /// Stores the record of an upload whose file is in the blob store; refuses it (429) when the key's
    /// unexpired uploads and this one would pass `quota` bytes.
    func insertUpload(_ upload: Upload, quota: Int64) async throws
    /// Bytes of the key's unexpired uploads.
    func uploadBytes(keyID: String) async throws -> Int64
    func expiredUploads(before: Date, limit: Int) async throws -> [Upload]
    func deleteUpload(id: String) async throws
}

extension URLSigner {
    /// Our own file links used as media: valid, and an upload only by the key that made it.
    public func checkOwnLink(_ url: String, field: String, keyID: String) throws(SeedgateError) {
        guard url.hasPrefix("\(baseURL)/files/") else { return }
        guard let blobKey = blobKey(ofLink: url) else {
            throw .invalid(field, "this Seedgate link has expired or is not valid; upload the file again for a fresh one", code: "invalid_url")
        }
        if let owner = Upload.owner(ofBlobKey: blobKey), owner != keyID {
            throw .invalid(field, "this upload belongs to another key; upload the file with your own key", code: "upload_not_yours")
        }
    }
}
