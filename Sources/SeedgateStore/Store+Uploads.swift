import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

extension SQLStore {
    public func insertUpload(_ upload: Upload, quota: Int64) async throws {
        let now = Epoch.millis(clock.now)
        try await provider.transaction { db in
            // Counted in the same transaction as the insert, so two uploads at once cannot both pass.
            let used = try await db.raw("""
                SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM uploads WHERE key_id = \(bind: upload.keyID) AND expires_at > \(bind: now)
                """).first()?.decode(column: "n", as: Int64.self) ?? 0
            guard used + upload.size <= quota else {
                throw SeedgateError(
                    .rateLimited, code: "upload_quota_exceeded",
                    message: "file: this key's uploads would hold \(used + upload.size) bytes; the quota is \(quota) bytes until older uploads expire",
                    param: "file", retryAfter: 3600
                )
            }
            try await db.raw("""
                INSERT INTO uploads (id, key_id, blob_key, media_type, size, content_type, filename, created_at, expires_at)
                VALUES (\(bind: upload.id), \(bind: upload.keyID), \(bind: upload.blobKey), \(bind: upload.mediaType.rawValue), \(bind: upload.size),
                        \(bind: upload.contentType), \(bind: upload.filename), \(bind: Epoch.millis(upload.createdAt)), \(bind: Epoch.millis(upload.expiresAt)))
                """).run()
        }
    }

    public func uploadBytes(keyID: String) async throws -> Int64 {
        let now = Epoch.millis(clock.now)
        return try await provider.read { db in
            try await db.raw("""
                SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM uploads WHERE key_id = \(bind: keyID) AND expires_at > \(bind: now)
                """).first()?.decode(column: "n", as: Int64.self) ?? 0
        }
    }

    public func expiredUploads(before: Date, limit: Int) async throws -> [Upload] {
        try await provider.read { db in
            try await db.raw("""
                SELECT * FROM uploads WHERE expires_at <= \(bind: Epoch.millis(before)) ORDER BY expires_at LIMIT \(unsafeRaw: String(limit))
                """).all().map { row in
                Upload(
                    id: try row.decode(column: "id", as: String.self), keyID: try row.decode(column: "key_id", as: String.self),
                    blobKey: try row.decode(column: "blob_key", as: String.self),
                    mediaType: MediaType(rawValue: try row.decode(column: "media_type", as: String.self)) ?? .image,
                    size: try row.decode(column: "size", as: Int64.self), contentType: try row.decode(column: "content_type", as: String.self),
                    filename: try row.decode(column: "filename", as: String?.self),
                    createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
                    expiresAt: Epoch.date(try row.decode(column: "expires_at", as: Int64.self))
                )
            }
        }
    }

    public func deleteUpload(id: String) async throws {
        try await provider.transaction { db in try await db.raw("DELETE FROM uploads WHERE id = \(bind: id)").run() }
    }
}
