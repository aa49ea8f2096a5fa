/// A status whose allowed moves are written down once. The store's conditional updates take the
/// states a move may start from here (`WHERE status IN ('pending', 'processing')`), so an update can
/// never move a row in a way this table does not allow, whatever replica runs it.
public protocol StatusMachine: RawRepresentable<String>, CaseIterable, Hashable, Sendable {
    /// The states this one may move to; none for a final state.
    var moves: Set<Self> { get }
}

extension StatusMachine {
    public func canMove(to next: Self) -> Bool { moves.contains(next) }

    /// A final state is one nothing leaves.
    public var isFinal: Bool { moves.isEmpty }

    /// Every state that may move to `next`, in declaration order.
    public static func sources(of next: Self) -> [Self] { allCases.filter { $0.canMove(to: next) } }

    /// `sources(of:)` as an SQL list of quoted literals, for `status IN (...)`. The values are this
    /// type's own raw values (letters and underscores), never a caller's text.
    public static func sqlSources(of next: Self) -> String {
        sources(of: next).map { "'\($0.rawValue)'" }.joined(separator: ", ")
    }
}

/// An asset is reviewed once: processing -> active | failed.
extension AssetStatus: StatusMachine {
    public var moves: Set<AssetStatus> {
        switch self {
        case .processing: [.active, .failed]
        case .active, .failed: []
        }
    }
}

/// A review task follows its assets: processing until the last one is reviewed, then completed when
/// every asset passed, failed when any did not.
extension AssetReviewTask.Status: StatusMachine {
    public var moves: Set<AssetReviewTask.Status> {
        switch self {
        case .processing: [.completed, .failed]
        case .completed, .failed: []
        }
    }
}

/// A video task: pending -> processing -> completed | failed | cancelled, and cancelled from either
/// unfinished state. A processing task may be claimed again (processing -> processing) once its
/// worker's lease ran out.
extension VideoStatus: StatusMachine {
    public var moves: Set<VideoStatus> {
        switch self {
        case .pending: [.processing, .cancelled]
        case .processing: [.processing, .completed, .failed, .cancelled]
        case .completed, .failed, .cancelled: []
        }
    }
}

/// A webhook delivery: pending (with retries) -> delivered | failed (given up).
public enum DeliveryStatus: String, Sendable, CaseIterable, StatusMachine {
    case pending, delivered, failed

    public var moves: Set<DeliveryStatus> {
        switch self {
        case .pending: [.pending, .delivered, .failed]
        case .delivered, .failed: []
        }
    }

    /// Where one attempt leaves a delivery: delivered, else pending while a retry is left, else failed.
    public static func after(attempt delivered: Bool, retrying: Bool) -> DeliveryStatus {
        delivered ? .delivered : (retrying ? .pending : .failed)
    }
}
