import Foundation
import HTTPTypes
import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The H5 page of a local real-person check, `/verify/<token>`: made for a phone, it says what will
/// happen, asks for consent and takes a live photo (the front camera where there is one, a file picker
/// where not). No session and no key: the token in the link is the credential, and it works only while
/// the session waits for this person. The photo is probed before it is kept; it is the operator's to
/// look at, never shown on this page again.
package struct VerifyPageRoutes: Sendable {
    package let liveness: LivenessService
    package let views: ConsoleViews
    package let blobs: any BlobStore
    package let scratchDirectory: String
    package let probe: @Sendable (String) async throws(Failure) -> MediaFacts

    package init(
        liveness: LivenessService, views: ConsoleViews, blobs: any BlobStore, scratchDirectory: String,
        probe: @escaping @Sendable (String) async throws(Failure) -> MediaFacts
    ) {
        self.liveness = liveness
        self.views = views
        self.blobs = blobs
        self.scratchDirectory = scratchDirectory
        self.probe = probe
    }

    /// An image's limit (seed 000: under 30 MB) and room for the form's own lines.
    static let maxBody = MediaRequirements.maxBytes(for: .image) + 64 * 1024

    /// The person's page: its token opens the session to whoever has it (`AccessLogPath`).
    package static let path = (group: "verify", page: ":token")

    package func register(on router: Router<AppRequestContext>) {
        let group = router.group(RouterPath(Self.path.group)).add(middleware: ConsoleHeadersMiddleware())
        group.get(RouterPath(Self.path.page)) { request, context in
            let token = try context.parameters.require("token")
            let session = try await liveness.open(token: token)
            if let link = session?.upstreamLink { return Response(status: .seeOther, headers: [.location: link]) }
            return page(request, token: token, session: session)
        }
        group.post(RouterPath(Self.path.page)) { request, context in
            let token = try context.parameters.require("token")
            guard let session = try await liveness.store.livenessSession(token: token, keyID: nil),
                  session.status(at: liveness.store.clock.now) == .pending, session.upstreamToken == nil
            else {
                return page(request, token: token, session: try await liveness.store.livenessSession(token: token, keyID: nil))
            }
            do {
                let photoKey = try await receivePhoto(request, session: session)
                let after = try await liveness.submitPhoto(token: token, photoKey: photoKey)
                if after?.photoKey != photoKey { try? await blobs.delete(key: photoKey) }
                return Response(status: .seeOther, headers: [.location: "/verify/\(token)"])
            } catch let problem as PhotoProblem {
                return page(request, token: token, session: session, problem: problem)
            } catch let error as SeedgateError {
                // Too large, empty, or not the page's form: the person is told on the page, not with a bare status.
                return page(request, token: token, session: session, problem: error.kind == .payloadTooLarge ? .tooLarge : .notAnImage)
            }
        }
    }

    enum PhotoProblem: Error { case noConsent, notAnImage, tooLarge }

    /// Writes the form's photo to the blob store (after checking consent and that it is an image).
    private func receivePhoto(_ request: Request, session: LivenessSession) async throws -> String {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        // A name of its own per request: a second tap on Send must not overwrite or delete this one's file.
        let scratch = "\(scratchDirectory)/verify-\(session.id)-\(Identifiers.random(8))"
        let raw = "\(scratch).part", file = "\(scratch).file"
        defer {
            try? FileManager.default.removeItem(atPath: raw)
            try? FileManager.default.removeItem(atPath: file)
        }
        try await UploadRoutes.receive(request.body, to: raw, limit: Self.maxBody)
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("multipart/form-data"), let boundary = MultipartFile.boundary(of: contentType) else {
            throw SeedgateError.invalid("photo", "send the page's form (multipart/form-data with consent and photo)")
        }
        var consent = false
        _ = try MultipartFile.extractFirstFile(from: raw, boundary: boundary, to: file) { name, value in
            if name == "consent", value == "yes" { consent = true }
        }
        guard consent else { throw PhotoProblem.noConsent }
        let facts: MediaFacts
        do throws(Failure) { facts = try await probe(file) } catch { throw PhotoProblem.notAnImage }
        guard facts.kind == .image else { throw PhotoProblem.notAnImage }
        let key = "liveness/\(session.id)-\(Identifiers.random(8)).\(UploadRoutes.fileExtension(facts.format))"
        try await blobs.put(file: file, key: key)
        return key
    }

    private func page(_ request: Request, token: String, session: LivenessSession?, problem: PhotoProblem? = nil) -> Response {
        let lang = ConsoleStrings.pick(query: request.uri.queryParameters.get("lang"), cookie: nil, acceptLanguage: request.headers[.acceptLanguage])
        let t = ConsoleStrings.table(lang)
        let now = liveness.store.clock.now
        var data: [String: Any] = ["token": token]
        var status: HTTPResponse.Status = .ok
        func show(_ state: String, _ heading: String?, _ message: String?, tone: String) {
            data["state"] = state
            data["heading"] = heading
            data["message"] = message
            data["tone"] = tone
        }
        switch session?.status(at: now) {
        case nil:
            show("unknown", t["verify_unknown_title"], t["verify_unknown_body"], tone: "bad")
            status = .notFound
        case .pending?:
            let message: String? = switch problem {
            case .noConsent?: t["verify_no_consent"]
            case .notAnImage?: t["verify_bad_photo"]
            case .tooLarge?: t["verify_too_large"]
            case nil: nil
            }
            show("open", t["verify_title"], message, tone: "bad")
            data["open"] = true
            if let problem { status = problem == .tooLarge ? .contentTooLarge : .badRequest }
            if let expires = session?.expiresAt {
                data["expires_iso"] = expires.formatted(.iso8601)
                data["expires_text"] = expires.formatted(Date.ISO8601FormatStyle(timeSeparator: .colon).year().month().day().time(includingFractionalSeconds: false)) + " UTC"
            }
        case .submitted?:
            show("submitted", t["verify_submitted_title"], t["verify_submitted_body"], tone: "good")
        case .verified?:
            show("verified", t["verify_verified_title"], t["verify_verified_body"], tone: "good")
        case .failed?:
            show("failed", t["verify_failed_title"], session?.failure?.message, tone: "bad")
        case .expired?:
            // The link not used in time, or the photo sent and left past the operator's time to decide.
            let undecided = session?.submittedAt != nil ? "undecided" : "expired"
            show("expired", t["verify_\(undecided)_title"], t["verify_\(undecided)_body"], tone: "bad")
            status = .gone
        }
        return views.page("verify", data, frame: [
            "t": t, "lang": lang, "title": data["heading"] ?? "", "other_lang": lang == "zh" ? "en" : "zh", "bare": true,
        ], status: status)
    }
}
