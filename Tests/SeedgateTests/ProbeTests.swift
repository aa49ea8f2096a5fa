import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOEmbedded
import SeedgateApp
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateSupport
import Testing

/// The hostile probe's findings, kept as tests: what an attacker on the same host or a hostile tenant
/// tried, and what each must get.
@Suite("hostile probe: SSRF, malformed input, timeouts, file modes")
struct ProbeTests {
    /// Every way of writing a loopback or otherwise internal address the probe tried, each aimed at the
    /// counting server's port so that a URL let through would be seen there (and could reach nothing
    /// but this machine).
    static func internalURLs(port p: Int) -> [String] {
        [
            "http://127.0.0.1:\(p)/a.png", "http://localhost:\(p)/a.png", "http://localhost.:\(p)/a.png", "http://127.0.0.1.:\(p)/a.png",
            "http://LOCALHOST:\(p)/a.png", "http://sub.localhost:\(p)/a.png", "http://[::1]:\(p)/a.png",
            "http://[::ffff:127.0.0.1]:\(p)/a.png", "http://[::ffff:7f00:1]:\(p)/a.png",    // IPv4-mapped
            "http://[::127.0.0.1]:\(p)/a.png",                                                // IPv4-compatible
            "http://[::ffff:0:127.0.0.1]:\(p)/a.png",                                         // SIIT
            "http://[2002:7f00:1::1]:\(p)/a.png",                                             // 6to4 of 127.0.0.1
            "http://[64:ff9b::127.0.0.1]:\(p)/a.png", "http://[64:ff9b:1::7f00:1]:\(p)/a.png", // NAT64
            "http://[100::1]:\(p)/a.png",                                                     // discard
            "http://[2001::7f00:1]:\(p)/a.png",                                               // Teredo
            "http://[fe80::1]:\(p)/a.png", "http://[fd00:ec2::254]:\(p)/a.png",
            "http://2130706433:\(p)/a.png", "http://0x7f000001:\(p)/a.png", "http://0177.0.0.1:\(p)/a.png",
            "http://0x7f.0.0.1:\(p)/a.png", "http://127.1:\(p)/a.png", "http://0:\(p)/a.png", "http://0.0.0.0:\(p)/a.png",
            "http://%31%32%37.0.0.1:\(p)/a.png", "HTTP://127.0.0.1:\(p)/a.png",
            "http://user:pw@127.0.0.1:\(p)/a.png", "http://example.com@127.0.0.1:\(p)/a.png",
            "ftp://127.0.0.1:\(p)/a.png", "gopher://127.0.0.1:\(p)/_x", "file:///etc/passwd", "data:image/png;base64,AAAA",
        ]
    }

    /// Every field of every dialect that takes a URL, as a body with `U` where the URL goes, the field's
    /// name in that dialect, and the dialect.
    static let urlFields: [(uri: String, body: String, field: String, dialect: String)] = [
        ("/v1/seedance2/private-avatar", #"{"group": {"name": "g"}, "url": "U"}"#, "url", "apimart"),
        ("/v1/seedance2/private-avatar", #"{"group": {"name": "g"}, "assets": [{"url": "U", "name": "a"}]}"#, "assets[0].url", "apimart"),
        ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["U"]}"#, "image_urls[0]", "apimart"),
        ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "image_with_roles": [{"url": "U", "role": "first_frame"}]}"#, "image_with_roles[0].url", "apimart"),
        ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["U"]}"#, "video_urls[0]", "apimart"),
        ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://asset-20260318071009-aaaaaaaa", "asset://asset-20260318071009-bbbbbbbb"], "audio_urls": ["U"]}"#, "audio_urls[0]", "apimart"),
        ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "prompt": "x", "callback_url": "U"}"#, "callback_url", "apimart"),
        ("/v1/videos/doubao-seedance-2-0/private-avatar/assets", #"{"group_id": "group-x", "asset_type": "image", "source_url": "U"}"#, "source_url", "toapis"),
        ("/api/v1/client/job/asset-upload", #"{"name": "a", "asset_type": "Image", "asset_url": "U"}"#, "asset_url", "crun"),
    ]

    /// The refusal of a bad request in `dialect`'s envelope, naming `field`.
    static func expectRefusal(_ reply: Reply, field: String, dialect: String, _ what: String) {
        switch dialect {
        case "apimart":
            #expect(reply.status == 400 && reply.body["code"].int == 400, "\(what): \(reply.text)")
            #expect(reply.body["error"]["param"].string == field, "\(what): \(reply.text)")
        case "toapis":
            #expect(reply.status == 400 && reply.body["success"].bool == false && reply.body["data"].isNull, "\(what): \(reply.text)")
            #expect(reply.body["message"].string?.hasPrefix(field) == true, "\(what): \(reply.text)")
        default:
            #expect(reply.status == 422 && reply.body["code"].int == 422, "\(what): \(reply.text)")
            #expect(reply.body["message"].string?.hasPrefix(field) == true, "\(what): \(reply.text)")
        }
    }

    @Test("every internal URL form is refused at submission in every URL field of every dialect, and nothing is fetched")
    func ssrfAtSubmission() async throws {
        let target = try await CountingServer.start()
        try await withGateway(allowPrivate: false) { gw in
            let key = try await gw.newKey()
            for url in Self.internalURLs(port: target.port) {
                for field in Self.urlFields {
                    let body = field.body.replacingOccurrences(of: "\"U\"", with: JSONOut.string(url).serialized())
                    let reply = try await gw.post(field.uri, key: key, body)
                    Self.expectRefusal(reply, field: field.field, dialect: field.dialect, "\(url) in \(field.field)")
                    #expect(!reply.text.contains("127.0.0.1 ") && !reply.text.contains("resolves to"), "\(reply.text)")
                }
            }
        }
        #expect(target.requests == 0, "the counting server was fetched")
    }

    @Test("the fetcher and the webhook client refuse every internal form at fetch time too, naming no address")
    func ssrfAtFetch() async throws {
        let target = try await CountingServer.start()
        let strict = URLGuard(allowPrivate: false)
        let fetcher = MediaFetcher(http: GuardedClient(configuration: .init(), urlGuard: strict))
        let scratch = TestSupport.temporaryDirectory()
        for url in Self.internalURLs(port: target.port) {
            do {
                _ = try await fetcher.fetch(url, maxBytes: 1 << 20, what: .image, to: "\(scratch)/f")
                Issue.record("fetched \(url)")
            } catch {
                #expect(["url_not_allowed"].contains(error.code), "\(url): \(error.code) \(error.message)")
                #expect(!error.message.contains("127.0.0.1,") && !error.message.contains("resolves to"), "\(error.message)")
            }
            await #expect(throws: Failure.self, "\(url)") {
                try await GuardedClient(configuration: .init(), urlGuard: strict).withClient(for: url, field: "callback_url") { _, _ in 0 }
            }
        }
        #expect(target.requests == 0, "the counting server was fetched")
    }

    @Test("a fetch connects to the address that was checked, not to what the name resolves to later")
    func pinnedToTheCheckedAddress() async throws {
        let fixtures = try await FixtureServer.baseURL()
        let port = try #require(URL(string: fixtures)?.port)
        // The system resolver knows no `rebind.test`; the guard's resolver says it is 127.0.0.1. The
        // download works only if the connection goes to the address the guard returned.
        let pinned = URLGuard(allowPrivate: true) { host in host == "rebind.test" ? [.v4(0x7F00_0001)] : [] }
        let fetcher = MediaFetcher(http: GuardedClient(configuration: .init(), urlGuard: pinned))
        let scratch = TestSupport.temporaryDirectory()
        let bytes = try await fetcher.fetch("http://rebind.test:\(port)/f/good.png", maxBytes: 30 << 20, what: .image, to: "\(scratch)/good.png")
        #expect(bytes > 1000)
        // And the same name judged as public space is refused before any connection.
        let strict = URLGuard(allowPrivate: false) { _ in [.v4(0x7F00_0001)] }
        await #expect(throws: Failure.self) {
            _ = try await MediaFetcher(http: GuardedClient(configuration: .init(), urlGuard: strict))
                .fetch("http://rebind.test:\(port)/f/good.png", maxBytes: 30 << 20, what: .image, to: "\(scratch)/again.png")
        }
    }

    static let malformedBodies: [String] = [
        "", "{", "}", "[]", "null", "1", "\"text\"", "{\"a\":", "{\"a\" 1}", "{,}", "{\"a\":1,}", "\u{FEFF}{}", "\u{FEFF}",
        "{\"model\": 5}", "{\"model\": \"doubao-seedance-2.0\", \"prompt\": {}}", "{\"group\": []}", "{\"group\": {\"name\": 7}}",
        "{\"assets\": {}}", "{\"assets\": [1, 2]}", "{\"name\": \"a\\u0000b\", \"asset_type\": \"Image\", \"asset_url\": \"x\"}",
        "{\"duration\": 1e400}", "{\"seed\": 99999999999999999999999}", "{\"a\": \"\\ud800\"}", "{\"a\": \"\u{01}\"}",
        String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
        "{\"model\": \"" + String(repeating: "m", count: 200_000) + "\"}",
        "{\"name\": \"" + String(repeating: "名", count: 100_000) + "\"}",
    ]

    static let postRoutes: [(uri: String, dialect: String)] = [
        ("/v1/seedance2/private-avatar", "apimart"), ("/v1/videos/generations", "apimart"), ("/v1/tasks/task_x/cancel", "apimart"),
        ("/v1/videos/doubao-seedance-2-0/private-avatar/groups", "toapis"), ("/v1/videos/doubao-seedance-2-0/private-avatar/assets", "toapis"),
        ("/api/v1/client/job/asset-upload", "crun"), ("/api/v1/client/job/CreateTask", "crun"),
        ("/api/v3/contents/generations/tasks", "ark"),
    ]

    @Test("malformed bodies on every POST route: a 4xx in the route's envelope, never a 5xx, never a hang, no long echo")
    func malformedSweep() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            for route in Self.postRoutes {
                for body in Self.malformedBodies {
                    let started = ContinuousClock.now
                    let reply = try await gw.post(route.uri, key: key, body)
                    let what = "\(route.uri) <- \(body.prefix(60))"
                    #expect((400..<500).contains(reply.status), "\(what): \(reply.status) \(reply.text.prefix(300))")
                    // A hang, not a slow moment on a loaded 2-core machine.
                    #expect(ContinuousClock.now - started < .seconds(20), "\(what) took too long")
                    #expect(reply.text.utf8.count < 4096, "\(what): the reply echoes the input (\(reply.text.utf8.count) bytes)")
                    switch route.dialect {
                    case "apimart": #expect(reply.body["error"]["message"].string != nil, "\(what): \(reply.text.prefix(300))")
                    case "toapis": #expect(reply.body["success"].bool == false, "\(what): \(reply.text.prefix(300))")
                    case "ark": #expect(reply.body["error"]["code"].string != nil && reply.body["error"]["type"].string != nil, "\(what): \(reply.text.prefix(300))")
                    default: #expect(reply.body["code"].int == reply.status && reply.body["message"].string != nil, "\(what): \(reply.text.prefix(300))")
                    }
                }
            }
        }
    }

    @Test("a 900 KB model is refused with a short message; apimart's asset model must be one that takes assets")
    func longValuesAndAssetModel() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let huge = String(repeating: "x", count: 900_000)
            let generation = try await gw.post("/v1/videos/generations", key: key, #"{"model": "\#(huge)", "prompt": "x"}"#)
            #expect(generation.status == 400 && generation.text.utf8.count < 1024, "\(generation.text.prefix(200))")
            for model in [#""\#(huge)""#, "5", "[]", #""doubao-seedance-2.0-face""#] {
                let reply = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"model": \#(model), "group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
                #expect(reply.status == 400 && reply.body["error"]["param"].string == "model" && reply.text.utf8.count < 1024, "\(reply.text.prefix(200))")
            }
            let fast = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"model": "doubao-seedance-2.0-fast", "group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
            #expect(fast.status == 200 && fast.body["data"]["model"].string == "doubao-seedance-2.0-fast", "\(fast.text)")
        }
    }

    @Test("names with NUL or other control characters, and more tools than exist, are refused by name")
    func controlCharactersAndTools() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            for (body, field, rule) in [
                (#"{"group": {"name": "a\u0000b"}, "url": "\#(gw.url("good.png"))"}"#, "group.name", "the NUL character"),
                (#"{"group": {"name": "g"}, "assets": [{"url": "\#(gw.url("good.png"))", "name": "x\u001bK"}]}"#, "assets[0].name", "control characters"),
                (#"{"group": {"name": "g", "description": "bell \u0007"}, "url": "\#(gw.url("good.png"))"}"#, "group.description", "control characters"),
            ] {
                let reply = try await gw.post("/v1/seedance2/private-avatar", key: key, body)
                #expect(reply.status == 400 && reply.body["error"]["param"].string == field, "\(reply.text)")
                #expect(reply.body["error"]["message"].string?.contains(rule) == true, "\(reply.text)")
            }
            let lines = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g", "description": "two\nlines\tok"}, "url": "\#(gw.url("good.png"))"}"#)
            #expect(lines.status == 200, "\(lines.text)")
            let tools = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x", "tools": [\#(Array(repeating: #"{"type": "web_search"}"#, count: 1000).joined(separator: ","))]}"#)
            #expect(tools.status == 400 && tools.body["error"]["param"].string == "tools", "\(tools.text.prefix(300))")
            let twice = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x", "tools": [{"type": "web_search"}, {"type": "web_search"}]}"#)
            #expect(twice.status == 400, "\(twice.text)")
        }
    }

    @Test("unknown routes answer 404, known paths with another method 405 with Allow, in the envelope of the dialect their path belongs to")
    func unknownRoutes() async throws {
        try await withGateway { gw in
            for (method, uri, dialect) in [
                (HTTPRequest.Method.get, "/v1/nope", "apimart"), (.delete, "/v1/videos/generations", "apimart"), (.get, "/nowhere", "apimart"),
                (.get, "/v1/videos/doubao-seedance-2-0/private-avatar/nope", "toapis"), (.put, "/api/v1/client/job/asset-upload", "crun"),
            ] {
                let reply = try await gw.request(method, uri, key: nil)
                // A path that exists takes other methods: 405, and Allow says which.
                let known = ["/v1/videos/generations", "/api/v1/client/job/asset-upload"].contains(uri)
                let status = known ? 405 : 404
                #expect(reply.status == status, "\(method) \(uri): \(reply.text)")
                if known { #expect(reply.headers[.allow] == "POST", "\(method) \(uri)") }
                let phrase = known ? "takes POST" : "no such endpoint"
                switch dialect {
                case "apimart": #expect(reply.body["code"].int == status && reply.body["error"]["code"].string == (known ? "method_not_allowed" : "not_found"), "\(reply.text)")
                case "toapis": #expect(reply.body["success"].bool == false && reply.body["message"].string?.contains(phrase) == true, "\(reply.text)")
                default: #expect(reply.body["code"].int == status && reply.body["message"].string?.contains(phrase) == true, "\(reply.text)")
                }
            }
        }
    }

    @Test("a malformed chunked body is a 400 (or a closed connection), never a 413; only a body that is too large is a 413")
    func unreadableBodies() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let port = try #require(gw.port)
            let chunked = try RawConnection(port: port)
            chunked.send("POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            // Read whole, the decoder refuses it with 400 or (when the bad chunk arrives with the head)
            // closes the connection; the body reader refuses what reaches it with 400. Never 413 or 5xx.
            var reply = ""
            while let more = try await chunked.receive(timeout: .seconds(10)), !more.isEmpty { reply += more }
            #expect(reply.isEmpty || reply.hasPrefix("HTTP/1.1 400"), "\(reply)")
            let collect = try await gw.post("/v1/videos/generations", key: key, String(repeating: "x", count: 2 << 20))
            #expect(collect.status == 413, "a body that is only too large is still a 413: \(collect.text)")
        }
    }

    @Test("connections that send nothing or half a request line are closed after the idle timeout; past the limit new ones wait their turn")
    func idleTimeoutAndConnectionLimit() async throws {
        try await withGateway(configure: { config in
            config.idleTimeout = .seconds(1)
            config.maxConnections = 3
        }) { gw in
            let port = try #require(gw.port)
            let silent = try RawConnection(port: port)
            let half = try RawConnection(port: port)
            half.send("GET /hea")
            let third = try RawConnection(port: port)
            third.send("GET /health HTTP/1.1\r\nHost: x\r\n")   // a request head that never ends
            // The server is at its limit: a fourth connection is accepted only once one of the three closes.
            let fourth = try RawConnection(port: port)
            fourth.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            var answer = ""
            let deadline = ContinuousClock.now + .seconds(20)
            while !answer.contains("\r\n\r\nok"), ContinuousClock.now < deadline {
                answer += try await fourth.receive(timeout: .milliseconds(200)) ?? ""
            }
            #expect(answer.hasPrefix("HTTP/1.1 200") && answer.hasSuffix("ok"), "\(answer)")
            try await TestSupport.waitUntil("the idle connections are closed", limit: .seconds(10)) {
                silent.isClosed && half.isClosed && third.isClosed
            }
        }
    }

    /// Every directory and file under `root` whose group or others have any permission.
    static func looseModes(_ root: String) -> [String] {
        var loose: [String] = []
        func visit(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            if info.st_mode & 0o077 != 0 { loose.append("\(path) \(String(info.st_mode & 0o777, radix: 8))") }
            if info.st_mode & S_IFMT == S_IFDIR {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { visit("\(path)/\(entry)") }
            }
        }
        visit(root)
        return loose
    }

    @Test("the data directory is 0700 and every file in it 0600 (database, WAL, lock, results); an older installation is tightened on start")
    func fileModes() async throws {
        let directory = TestSupport.temporaryDirectory()
        try await withGateway(dataDirectory: directory) { gw in
            let key = try await gw.newKey()
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "modes", "duration": 4, "return_last_frame": true}"#, key: key)
            let done = try await gw.finishedVideo(id, key: key)
            #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            for file in ["seedgate.sqlite", "seedgate.sqlite-wal", "serve.lock", "blobs/videos/\(id).mp4", "blobs/frames/\(id).png"] {
                #expect(FileManager.default.fileExists(atPath: "\(directory)/\(file)"), "\(file)")
            }
            #expect(Self.looseModes(directory).isEmpty, "\(Self.looseModes(directory))")
        }
        // As an earlier version left it: readable by everyone.
        func loosen(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            let directory = info.st_mode & S_IFMT == S_IFDIR
            chmod(path, directory ? 0o755 : 0o644)
            if directory { for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { loosen("\(path)/\(entry)") } }
        }
        loosen(directory)
        #expect(!Self.looseModes(directory).isEmpty)
        try await withGateway(dataDirectory: directory) { _ in
            #expect(Self.looseModes(directory).isEmpty, "\(Self.looseModes(directory))")
        }
    }
}

/// A request body that yields `chunks` and then, if `failing`, fails the way a malformed chunked body
/// or one cut short of its Content-Length does inside the server.
struct BodyChunks: AsyncSequence, Sendable {
    let chunks: [ByteBuffer]
    let failing: Bool

    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: [ByteBuffer]
        let failing: Bool
        mutating func next() async throws -> ByteBuffer? {
            if !rest.isEmpty { return rest.removeFirst() }
            if failing { throw FixtureError("the body ended before its Content-Length") }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: chunks, failing: failing) }
}

@Suite("reading request bodies")
struct RequestBodyTests {
    static func collect(_ body: BodyChunks) async throws -> Data {
        let context = AppRequestContext(source: .init(channel: EmbeddedChannel(), logger: TestSupport.logger))
        let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "x", path: "/v1/videos/generations"),
                              body: RequestBody(asyncSequence: body))
        return try await JSONFields.collectBody(request, context: context)
    }

    @Test("a body that fails part way is a 400 naming the body; only one over the limit is a 413")
    func failures() async throws {
        #expect(try await Self.collect(BodyChunks(chunks: [ByteBuffer(string: "{}")], failing: false)) == Data("{}".utf8))
        do {
            _ = try await Self.collect(BodyChunks(chunks: [ByteBuffer(string: "{\"model\"")], failing: true))
            Issue.record("a broken body was read")
        } catch let error as SeedgateError {
            #expect(error.kind == .invalidRequest && error.code == "invalid_body", "\(error)")
        }
        do {
            _ = try await Self.collect(BodyChunks(chunks: Array(repeating: ByteBuffer(repeating: 0x20, count: 300_000), count: 4), failing: false))
            Issue.record("a 1.2 MB body was read")
        } catch let error as SeedgateError {
            #expect(error.kind == .payloadTooLarge, "\(error)")
        }
    }
}

@Suite("webhooks to refused URLs")
struct RefusedWebhookTests {
    @Test("a callback URL the guard refuses at delivery fails at once, not after 28 hours of retries")
    func refusedAtDelivery() async throws {
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.start()
        // Accepted while private URLs are allowed (a development server), refused once they are not.
        let directory = TestSupport.temporaryDirectory()
        let (key, id) = try await withGateway(dataDirectory: directory, configure: { $0.runWorkers = false }) { gw in
            let key = try await gw.newKey()
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4, "callback_url": "\#(receiver.url)"}"#, key: key)
            return (key, id)
        }
        try await withGateway(allowPrivate: false, dataDirectory: directory) { gw in
            _ = try await gw.finishedVideo(id, key: key)
            let delivery = try await gw.poll("/v1/tasks/\(id)", key: key) { $0["data"]["webhook"]["status"].string == "failed" }
            #expect(delivery.body["data"]["webhook"]["status"].string == "failed", "\(delivery.text)")
            #expect(delivery.body["data"]["webhook"]["attempts"].int == 1, "\(delivery.text)")
            #expect(delivery.body["data"]["webhook"]["last_error"].string?.contains("not a private") == false)
        }
        #expect(receiver.requests.isEmpty)
    }
}
