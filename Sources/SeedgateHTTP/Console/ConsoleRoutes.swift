import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// A channel as the console's channels page shows it. The app fills these in from its channel
/// router; the HTTP layer knows no engine.
public struct ConsoleChannelStatus: Sendable {
    public var name: String
    public var kind: String
    public var baseURL: String
    public var priority: Int
    public var maxInFlight: Int
    public var inFlight: Int
    /// `healthy`, `cooling` or `at_capacity`.
    public var state: String
    public var coolingUntil: Date?
    public var failuresInARow: Int
    public var recentErrors: [(at: Date, message: String)]

    public init(
        name: String, kind: String, baseURL: String, priority: Int, maxInFlight: Int, inFlight: Int, state: String,
        coolingUntil: Date?, failuresInARow: Int, recentErrors: [(at: Date, message: String)]
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.priority = priority
        self.maxInFlight = maxInFlight
        self.inFlight = inFlight
        self.state = state
        self.coolingUntil = coolingUntil
        self.failuresInARow = failuresInARow
        self.recentErrors = recentErrors
    }
}

/// What the channels page reads and runs, wired in by the app.
public struct ConsoleChannels: Sendable {
    public var status: @Sendable () async -> [ConsoleChannelStatus]
    /// The call `seedgate channels check` makes, per channel.
    public var check: @Sendable () async -> [(channel: String, ok: Bool, line: String)]

    public init(
        status: @escaping @Sendable () async -> [ConsoleChannelStatus],
        check: @escaping @Sendable () async -> [(channel: String, ok: Bool, line: String)]
    ) {
        self.status = status
        self.check = check
    }
}

/// The web console at `/console`: server-rendered pages for the operator and for each key's owner.
/// Every page needs a session (a random token in an HttpOnly, SameSite=Strict cookie; the store keeps
/// its hash and its expiry); every form that changes something carries the session's CSRF token.
/// All reads and actions go through `ConsoleService` and `GenerationService`, as the API's do.
package struct ConsoleRoutes: Sendable {
    package let console: ConsoleService
    package let generation: GenerationService
    package let views: ConsoleViews
    package let links: ResultLinks
    package let catalog: ModelCatalog
    package let urlGuard: URLGuard
    /// The API's per-key request limit, which the playground's submissions count against too.
    package let rateLimiter: RateLimiter
    /// Whether cookies carry `Secure` (the public URL is https).
    package let secureCookies: Bool
    package let channels: ConsoleChannels?
    package let logger: Logger
    /// Real-person verifications and where their photos are kept.
    package let liveness: (service: LivenessService, photos: any BlobStore)?

    package init(
        console: ConsoleService, generation: GenerationService, views: ConsoleViews, links: ResultLinks, catalog: ModelCatalog,
        urlGuard: URLGuard, rateLimiter: RateLimiter, secureCookies: Bool, channels: ConsoleChannels?, logger: Logger = Logger(label: "seedgate.console"),
        liveness: (service: LivenessService, photos: any BlobStore)? = nil
    ) {
        self.liveness = liveness
        self.console = console
        self.generation = generation
        self.views = views
        self.links = links
        self.catalog = catalog
        self.urlGuard = urlGuard
        self.rateLimiter = rateLimiter
        self.secureCookies = secureCookies
        self.channels = channels
        self.logger = logger
    }

    static let sessionCookie = "sg_session"
    static let loginCookie = "sg_login"
    static let languageCookie = "sg_lang"
    /// Forms are a few kilobytes; the playground's prompt is the largest field.
    static let maxForm = 64 * 1024

    /// One signed-in request: who, in which language, and the key when it is an owner's.
    struct Visit {
        var session: ConsoleSession
        var lang: String
        var strings: [String: String]
        var key: APIKey?
        var path: String
        var role: ConsoleRole { session.role }

        /// The banner for `?done=`: only the actions' own outcomes, never any other string.
        func doneMessage(_ key: String) -> String? {
            ["done", "limits_saved", "credits_added", "task_cancelled", "webhook_queued"].contains(key) ? strings[key] : nil
        }
    }

    package func register(on router: Router<AppRequestContext>) {
        let group = router.group("console").add(middleware: ConsoleHeadersMiddleware())
        group.get { request, _ in
            guard let visit = try? await visit(request) else { return Self.redirect("/console/login") }
            return Self.redirect(visit.role.isOperator ? "/console/overview" : "/console/home")
        }
        group.get("static/console.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=300"], body: .init(byteBuffer: ByteBuffer(string: views.stylesheet)))
        }
        group.get("static/console.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"], body: .init(byteBuffer: ByteBuffer(string: views.script)))
        }
        group.get("login") { request, _ in
            if (try? await visit(request)) != nil { return Self.redirect("/console") }
            return loginPage(request, error: nil, status: .ok)
        }
        group.post("login") { request, context in
            let form = try await Self.form(request)
            let expected = request.cookies[Self.loginCookie]?.value ?? ""
            guard !expected.isEmpty, ConsoleService.constantTimeEqual(form["login_csrf"] ?? "", expected) else {
                return loginPage(request, error: language(request).strings["csrf_failed"], status: .forbidden)
            }
            do {
                let (token, session) = try await console.signIn(credential: form["credential"] ?? "", client: context.remoteAddress ?? "unknown")
                // Signing in again ends the session this browser had.
                if let old = request.cookies[Self.sessionCookie]?.value, !old.isEmpty { try? await console.signOut(token: old) }
                var response = Self.redirect(session.role.isOperator ? "/console/overview" : "/console/home")
                response.setCookie(cookie(Self.sessionCookie, token, maxAge: Int(console.sessionLifetime.seconds)))
                response.setCookie(cookie(Self.loginCookie, "", maxAge: 0))
                return response
            } catch let error as SeedgateError {
                let strings = language(request).strings
                let message = error.kind == .rateLimited ? "\(strings["too_many"] ?? "") \(error.message)" : error.message
                var response = loginPage(request, error: message, status: error.status)
                if let wait = error.retryAfter { response.headers[.retryAfter] = String(wait) }
                return response
            }
        }
        post(group, "logout") { request, _, visit, _ in
            if let token = request.cookies[Self.sessionCookie]?.value { try await console.signOut(token: token) }
            var response = Self.redirect("/console/login")
            response.setCookie(cookie(Self.sessionCookie, "", maxAge: 0))
            _ = visit
            return response
        }
        registerOperatorPages(group)
        registerTaskPages(group)
        registerOwnerPages(group)
        registerLivenessPages(group)
    }

    // MARK: Plumbing

    /// Registers a page that needs a session; errors become HTML pages in the visitor's language.
    func get(_ group: RouterGroup<AppRequestContext>, _ path: RouterPath, _ handler: @escaping @Sendable (Request, AppRequestContext, Visit) async throws -> Response) {
        group.get(path) { request, context in
            guard let visit = try await visit(request) else { return signInAgain(request) }
            var response = try await rendering(visit) { try await handler(request, context, visit) }
            if let lang = request.uri.queryParameters.get("lang"), ConsoleStrings.languages.contains(lang) {
                response.setCookie(cookie(Self.languageCookie, lang, maxAge: 365 * 86400))
            }
            return response
        }
    }

    /// Registers a form's target: a session and the session's CSRF token are required.
    func post(_ group: RouterGroup<AppRequestContext>, _ path: RouterPath, _ handler: @escaping @Sendable (Request, AppRequestContext, Visit, FormFields) async throws -> Response) {
        group.post(path) { request, context in
            guard let visit = try await visit(request) else { return signInAgain(request) }
            return try await rendering(visit) {
                let form = try await Self.form(request)
                guard ConsoleService.constantTimeEqual(form["csrf"] ?? "", visit.session.csrf) else {
                    return errorPage(visit, status: .forbidden, title: visit.strings["forbidden"] ?? "", message: visit.strings["csrf_failed"] ?? "")
                }
                return try await handler(request, context, visit, form)
            }
        }
    }

    private func rendering(_ visit: Visit, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as SeedgateError {
            let title = switch error.kind {
            case .notFound: visit.strings["not_found"] ?? ""
            case .forbidden: visit.strings["forbidden"] ?? ""
            default: visit.strings["error"] ?? ""
            }
            return errorPage(visit, status: error.status, title: title, message: error.message)
        } catch {
            logger.error("console page failed", metadata: ["error": "\(logDescription(of: error))", "path": "\(visit.path)"])
            return errorPage(visit, status: .internalServerError, title: visit.strings["error"] ?? "", message: "the page could not be made; the error is in the server's log")
        }
    }

    /// The session named by the request's cookie, when it is live (and, for an owner, the key is too).
    func visit(_ request: Request) async throws -> Visit? {
        guard let token = request.cookies[Self.sessionCookie]?.value, let session = try await console.session(token: token) else { return nil }
        var key: APIKey?
        if !session.role.isOperator {
            guard let live = try await console.key(session.role) else { return nil }
            key = live
        }
        let (lang, strings) = language(request)
        return Visit(session: session, lang: lang, strings: strings, key: key, path: "/" + request.uri.path.split(separator: "/").joined(separator: "/"))
    }

    func language(_ request: Request) -> (lang: String, strings: [String: String]) {
        let lang = ConsoleStrings.pick(
            query: request.uri.queryParameters.get("lang"), cookie: request.cookies[Self.languageCookie]?.value,
            acceptLanguage: request.headers[.acceptLanguage]
        )
        return (lang, ConsoleStrings.table(lang))
    }

    private func signInAgain(_ request: Request) -> Response {
        var response = Self.redirect("/console/login")
        if request.cookies[Self.sessionCookie] != nil { response.setCookie(cookie(Self.sessionCookie, "", maxAge: 0)) }
        return response
    }

    private func loginPage(_ request: Request, error: String?, status: HTTPResponse.Status) -> Response {
        let (lang, strings) = language(request)
        let loginToken = Identifiers.random(32)
        var response = views.page("login", ["error": error as Any, "login_csrf": loginToken], frame: [
            "t": strings, "lang": lang, "title": strings["sign_in"] ?? "", "other_lang": lang == "zh" ? "en" : "zh", "path": "/console/login", "bare": true,
        ], status: status)
        response.setCookie(cookie(Self.loginCookie, loginToken, maxAge: 3600))
        return response
    }

    func errorPage(_ visit: Visit, status: HTTPResponse.Status, title: String, message: String) -> Response {
        views.page("error", ["error_title": title, "message": message, "code": Int(status.code)], frame: frame(visit, title: title), status: status)
    }

    /// The layout's data: title, navigation for the role, strings, the CSRF token for sign-out.
    func frame(_ visit: Visit, title: String, section: String = "") -> [String: Any] {
        let items: [(String, String)] = visit.role.isOperator
            ? [("overview", "/console/overview"), ("keys", "/console/keys"), ("tasks", "/console/tasks"), ("assets", "/console/assets"),
               ("verifications", "/console/verifications"), ("channels", "/console/channels")]
            : [("home", "/console/home"), ("tasks", "/console/tasks"), ("assets", "/console/assets"), ("verifications", "/console/verifications"),
               ("playground", "/console/playground")]
        return [
            "t": visit.strings, "lang": visit.lang, "other_lang": visit.lang == "zh" ? "en" : "zh", "title": title, "path": visit.path,
            "csrf": visit.session.csrf, "operator": visit.role.isOperator, "key_name": visit.key?.name ?? "",
            "nav": items.map { name, href in ["label": visit.strings[name] ?? name, "href": href, "active": name == section] },
        ]
    }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/console", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func form(_ request: Request) async throws -> FormFields {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxForm)
        } catch {
            throw SeedgateError(.payloadTooLarge, code: "payload_too_large", message: "the form is larger than \(maxForm / 1024) KB")
        }
        return FormFields(String(buffer: buffer))
    }
}

/// Headers on every console response: a policy that runs only our own script and style and frames
/// nothing, no caching of pages that show secrets, no referrer leaking signed links.
struct ConsoleHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[HTTPField.Name("Content-Security-Policy")!] = Self.policy
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
