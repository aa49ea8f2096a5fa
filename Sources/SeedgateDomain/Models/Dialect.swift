/// The wire dialects a client may speak. A task remembers the one it was made in: its webhook is
/// rendered in that dialect, whichever views read it later.
public enum Dialect: String, Sendable, Codable, CaseIterable {
    case apimart, toapis, crun
    /// Ark's own task API (`/api/v3/contents/generations/tasks`), for the official Ark SDKs.
    case ark
}
