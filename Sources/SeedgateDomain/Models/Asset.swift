import Foundation
import SeedgateSupport

/// The kind of media an asset holds. Each dialect spells it its own way (`Image`, `image`).
public enum MediaType: String, Sendable, CaseIterable, Codable {
    case image, video, audio

    /// `Image`, `Video`, `Audio`: apimart's and crun's spelling.
    public var capitalized: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
}

/// An asset's review state: processing -> active | failed, nothing else.
public enum AssetStatus: String, Sendable, Codable, CaseIterable {
    case processing, active, failed

    public var capitalized: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
}

/// Why something was refused: a stable machine code and a message naming the rule and the measured value.
public struct Failure: Sendable, Equatable, Codable, Error {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A group of private-avatar assets, owned by one key.
public struct AssetGroup: Sendable, Equatable {
    public var id: String
    public var keyID: String
    public var name: String
    public var description: String
    public var projectName: String
    public var createdAt: Date
    /// `AIGC`, or `LivenessFace` for a real person's group made by a liveness check.
    public var groupType: String

    package init(id: String, keyID: String, name: String, description: String, projectName: String, createdAt: Date, groupType: String = GroupType.aigc) {
        self.groupType = groupType
        self.id = id
        self.keyID = keyID
        self.name = name
        self.description = description
        self.projectName = projectName
        self.createdAt = createdAt
    }
}

/// One reviewed (or in-review) media file, owned by one key, usable as `asset://<id>` once active.
public struct Asset: Sendable, Equatable {
    public var id: String
    public var keyID: String
    public var groupID: String
    public var taskID: String?
    public var name: String
    public var type: MediaType
    public var sourceURL: String
    public var status: AssetStatus
    public var failure: Failure?
    public var createdAt: Date
    public var updatedAt: Date

    public var assetURL: String { "asset://\(id)" }
    /// Where the local review keeps the asset's thumbnail for the console, in the blob store.
    public var thumbnailKey: String { Self.thumbnailKey(id: id) }
    public static func thumbnailKey(id: String) -> String { "thumbnails/\(id).jpg" }

    package init(
        id: String, keyID: String, groupID: String, taskID: String? = nil, name: String, type: MediaType,
        sourceURL: String, status: AssetStatus, failure: Failure? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.keyID = keyID
        self.groupID = groupID
        self.taskID = taskID
        self.name = name
        self.type = type
        self.sourceURL = sourceURL
        self.status = status
        self.failure = failure
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An asset review task: the batch of assets one submission made. Its state is derived from its assets,
/// so it can never disagree with them.
public struct AssetReviewTask: Sendable, Equatable {
    public var id: String
    public var keyID: String
    public var groupID: String
    public var createdAt: Date
    public var assets: [Asset]

    public enum Status: String, Sendable, CaseIterable { case processing, completed, failed }

    public var status: Status {
        if assets.contains(where: { $0.status == .processing }) { return .processing }
        return assets.allSatisfy { $0.status == .active } ? .completed : .failed
    }

    /// 10 on submission (as the seed shows), rising with each asset reviewed, 100 when all are done.
    public var progress: Int {
        guard !assets.isEmpty else { return 100 }
        let done = assets.filter { $0.status != .processing }.count
        return done == assets.count ? 100 : 10 + done * 80 / assets.count
    }

    public var completedAt: Date? {
        status == .processing ? nil : assets.map(\.updatedAt).max()
    }

    /// The dialect it was submitted in: its webhook is rendered in it.
    public var dialect: Dialect = .apimart

    package init(id: String, keyID: String, groupID: String, createdAt: Date, assets: [Asset], dialect: Dialect = .apimart) {
        self.dialect = dialect
        self.id = id
        self.keyID = keyID
        self.groupID = groupID
        self.createdAt = createdAt
        self.assets = assets
    }
}
