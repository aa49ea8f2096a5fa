import Hummingbird
import Logging
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The context every request starts with. The auth middleware fills in `apiKey`.
public struct AppRequestContext: TracedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var apiKey: APIKey?
    public let trace = RequestTrace()
    /// The peer's IP address (the console's sign-in limit counts wrong tries per address).
    public let remoteAddress: String?
    /// The event loop the request's connection runs on (its database calls prefer connections there).
    public let eventLoop: any EventLoop

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.apiKey = nil
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
        self.eventLoop = source.channel.eventLoop
    }

    /// Request bodies are JSON documents of a few kilobytes; anything past this is refused with 413.
    public var maxUploadSize: Int { 1024 * 1024 }
}

/// The context of an authenticated route: it exists only once a key was proven, so a handler
/// cannot forget to authenticate.
public struct AuthenticatedContext: ChildRequestContext, TracedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let key: APIKey
    public let trace: RequestTrace

    public init(context: AppRequestContext) throws {
        guard let key = context.apiKey else { throw SeedgateError.unauthorized }
        self.coreContext = context.coreContext
        self.key = key
        self.trace = context.trace
    }

    /// The request's id, given to the tasks it makes so their later work logs it too.
    public var requestID: String? { trace.requestID }

    public var maxUploadSize: Int { 1024 * 1024 }
}
