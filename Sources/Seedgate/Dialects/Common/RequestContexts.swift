import Hummingbird
import Logging

/// The context every request starts with. The auth middleware fills in `apiKey`.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var apiKey: APIKey?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.apiKey = nil
    }

    /// Request bodies are JSON documents of a few kilobytes; anything past this is refused with 413.
    public var maxUploadSize: Int { 1024 * 1024 }
}

/// The context of an authenticated route: it exists only once a key was proven, so a handler
/// cannot forget to authenticate.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let key: APIKey

    public init(context: AppRequestContext) throws {
        guard let key = context.apiKey else { throw SeedgateError.unauthorized }
        self.coreContext = context.coreContext
        self.key = key
    }

    public var maxUploadSize: Int { 1024 * 1024 }
}
