import SeedgateSupport

/// The limits of a generation request (seed 002's parameter reference) that hold for every model and
/// dialect; the rest are the model's, in its `ModelSpec`.
/// Where the seed's "Differences" table disagrees with the parameter reference (5-15 s; 480p/720p),
/// the reference wins: it agrees with upstream.
public enum GenerationRules {
    public static let sizes = ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"]
    public static let resolutions = ["480p", "720p", "1080p"]
    public static let seeds: ClosedRange<Int64> = -1...4_294_967_295
    public static let maxPromptCharacters = 4000
    /// The tools a generation may use.
    public static let toolTypes = ["web_search"]
}
