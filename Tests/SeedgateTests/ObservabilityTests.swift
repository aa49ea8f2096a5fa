import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import SeedgateApp
import SeedgateDomain
import SeedgateHTTP
import SeedgateSupport
import Testing

/// A loopback port nothing listens on right now (bound, read, closed).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FixtureError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw FixtureError("bind() failed") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One series' value in a Prometheus text exposition: the line whose name is `name` and whose labels
/// include every pair of `labels`.
func metric(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { continue }
        let series = parts[0]
        let seriesName = series.prefix { $0 != "{" }
        guard seriesName == name else { continue }
        if labels.allSatisfy({ series.contains("\($0.key)=\"\($0.value)\"") }) { return Double(parts[1]) }
    }
    return nil
}

func scrape(_ port: Int) async throws -> (status: Int, text: String) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
    return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 8 << 20)))
}

@Suite("metrics, request ids, JSON logs, health")
struct ObservabilityTests {
    @Test("after known operations the scrape says exactly how many: requests by route, tasks by model, dialect and status, refusals, webhooks, credits, render time; no key id in any label; nothing on the public port")
    func countsAfterKnownOperations() async throws {
        let metricsPort = try freePort()
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.start()
        try await withGateway(configure: { $0.metricsPort = metricsPort }) { gw in
            let key = try await gw.newKey(), poor = try await gw.newKey("poor", credits: 1)
            var ids: [String] = []
            for n in 0..<3 {
                let callback = n == 0 ? #", "callback_url": "\#(receiver.url)""# : ""
                ids.append(try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "p\#(n)", "duration": 4\#(callback)}"#, key: key))
            }
            _ = try await gw.generateCrun(#"{"model": "bytedance/seedance2-0-fast-t2v", "input": {"prompt": "c", "duration": 4}}"#, key: key)
            for _ in 0..<2 {
                let refused = try await gw.post("/v1/videos/generations", key: poor, #"{"model": "doubao-seedance-2.0", "prompt": "x"}"#)
                #expect(refused.status == 402)
            }
            var charged = 0
            for id in ids { charged += try await gw.finishedVideo(id, key: key).body["data"]["cost"].int ?? 0 }
            try await TestSupport.waitUntil("the webhook was delivered", limit: .seconds(30)) { receiver.requests.count == 1 }
            // The crun task too, before scraping.
            try await TestSupport.waitUntil("every task finished", limit: .seconds(60)) {
                (try? await gw.store.statistics().tasks.filter { $0.status == "completed" }.reduce(0) { $0 + $1.count }) == 4
            }
            try await TestSupport.waitUntil("the webhook delivery was recorded", limit: .seconds(10)) {
                (try? await scrape(metricsPort)).flatMap { metric($0.text, "seedgate_webhook_deliveries_total", ["result": "delivered"]) } == 1
            }
            let (status, text) = try await scrape(metricsPort)
            #expect(status == 200)
            #expect(metric(text, "http_requests_total", ["route": "/v1/videos/generations", "method": "POST", "status": "200"]) == 3, "\(text)")
            #expect(metric(text, "http_requests_total", ["route": "/v1/videos/generations", "method": "POST", "status": "402"]) == 2)
            #expect(metric(text, "http_requests_total", ["route": "/api/v1/client/job/CreateTask", "method": "POST", "status": "200"]) == 1)
            #expect(metric(text, "http_request_duration_seconds_count", ["route": "/v1/videos/generations", "method": "POST"]) == 5)
            #expect(metric(text, "seedgate_tasks", ["model": "doubao-seedance-2.0", "dialect": "apimart", "status": "completed"]) == 3)
            #expect(metric(text, "seedgate_tasks", ["model": "doubao-seedance-2.0-fast", "dialect": "crun", "status": "completed"]) == 1)
            #expect(metric(text, "seedgate_tasks_in_flight") == 0)
            #expect(metric(text, "seedgate_refusals_total", ["code": "insufficient_credits", "dialect": "apimart"]) == 2)
            #expect(metric(text, "seedgate_webhook_deliveries_total", ["result": "delivered"]) == 1)
            #expect(metric(text, "seedgate_credits_held") == 0)
            #expect(metric(text, "seedgate_credits_charged_total").map { Int($0) } ?? -1 >= charged && charged > 0)
            #expect(metric(text, "seedgate_render_seconds_per_output_second_count", ["resolution": "480p"]) == 4)
            #expect(metric(text, "seedgate_task_duration_seconds_count") == 4)
            #expect(metric(text, "seedgate_task_duration_seconds_bucket", ["le": "3600"]) == 4)
            #expect(metric(text, "seedgate_store_up") == 1)
            let keyIDs = try await gw.store.provider.read { db in
                try await db.raw("SELECT id FROM api_keys").all().map { try $0.decode(column: "id", as: String.self) }
            }
            #expect(keyIDs.count == 2 && keyIDs.allSatisfy { !text.contains($0) })
            #expect(!text.contains("sk-sg-"))
            // Never on the public port.
            #expect(try await gw.get("/metrics", key: key).status == 404)
        }
    }

    @Test("the access line's path shows a token's place, never the token, whatever the method or route; other paths as they came")
    func tokensLeftOutOfPaths() {
        #expect(AccessLogPath.shown("/verify/bt_abc") == "/verify/{token}")
        #expect(AccessLogPath.shown("/upstream/ark/task_1/cb_secret") == "/upstream/ark/task_1/{token}")
        // No route takes these, and they still carry the token.
        #expect(AccessLogPath.shown("/verify/bt_abc/more") == "/verify/{token}/more")
        #expect(AccessLogPath.shown("/VERIFY/bt_abc") == "/VERIFY/{token}")
        #expect(AccessLogPath.shown("/upstream/ark/task_1") == "/upstream/ark/task_1")
        #expect(AccessLogPath.shown("/v1/tasks/task_1") == "/v1/tasks/task_1")
        #expect(AccessLogPath.shown("/verify") == "/verify")
        // The router skips empty parts, so these reach the page too.
        #expect(AccessLogPath.shown("//verify/bt_abc") == "/verify/{token}")
        #expect(AccessLogPath.shown("/verify//bt_abc") == "/verify/{token}")
        #expect(AccessLogPath.shown("/upstream//ark/task_1/cb_secret/") == "/upstream/ark/task_1/{token}")
    }

    @Test("every response carries X-Request-Id: the client's when sane, a new one otherwise")
    func requestIDs() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            var headers: HTTPFields = [.authorization: "Bearer \(key)"]
            headers[HTTPField.Name("X-Request-Id")!] = "trace-abc.123"
            let echoed = try await gw.client.execute(uri: "/v1/tasks", method: .get, headers: headers, body: nil)
            #expect(echoed.headers[HTTPField.Name("X-Request-Id")!] == "trace-abc.123")
            headers[HTTPField.Name("X-Request-Id")!] = "bad id\u{7f}" + String(repeating: "x", count: 200)
            let replaced = try await gw.client.execute(uri: "/v1/tasks", method: .get, headers: headers, body: nil)
            let made = try #require(replaced.headers[HTTPField.Name("X-Request-Id")!])
            #expect(made.hasPrefix("req_") && made.count < 40)
            // Errors too, in every dialect, and requests no route matched.
            let missing = try await gw.get("/api/v1/client/job/TaskInfo?task_id=x", key: key, header: .xAPIKey)
            #expect(missing.status == 404 && missing.headers[HTTPField.Name("X-Request-Id")!]?.hasPrefix("req_") == true)
            let unknown = try await gw.get("/nowhere", key: nil)
            #expect(unknown.status == 404 && unknown.headers[HTTPField.Name("X-Request-Id")!] != nil)
        }
    }

    @Test("health: live answers; ready checks the store and the blob store")
    func health() async throws {
        try await withGateway { gw in
            let live = try await gw.get("/health/live", key: nil)
            #expect(live.status == 200 && live.body["status"].string == "ok")
            let ready = try await gw.get("/health/ready", key: nil)
            #expect(ready.status == 200 && ready.body["store"].string == "ok" && ready.body["blob_store"].string == "ok", "\(ready.text)")
        }
        // An S3 blob store that stops answering: not ready, and it says which part.
        let moto = try await MotoServer.start()
        try await withGateway(configure: { moto.configure(&$0) }) { gw in
            #expect(try await gw.get("/health/ready", key: nil).status == 200)
            await moto.stop()
            let ready = try await gw.get("/health/ready", key: nil)
            #expect(ready.status == 503 && ready.body["blob_store"].string == "unreachable" && ready.body["store"].string == "ok", "\(ready.text)")
            #expect(ready.body["status"].string == "unavailable")
        }
    }

    @Test("with --log-format json, stdout is one JSON object per line, and one request is followed by its id from the access line to the worker that finished its task")
    func followOneRequest() async throws {
        let directory = TestSupport.temporaryDirectory()
        let metricsPort = try freePort()
        let server = try ServerProcess(directory: directory, arguments: ["--log-format", "json", "--metrics-port", String(metricsPort)])
        defer { Task { await server.stop() } }
        _ = try await server.port()
        let announced = await server.read(until: "poll the task id")
        // The API's port, from Seedgate's own line (the metrics server says it listens too, maybe first).
        let line = try #require(announced.split(separator: "\n").first { $0.contains("Seedgate is listening") }, "\(announced)")
        let address = try #require(line.range(of: #""address":"http://127.0.0.1:"#), "\(line)")
        let port = try #require(Int(line[address.upperBound...].prefix { $0.isNumber }))
        let secret = try #require(announced.firstMatch(of: #/sk-sg-[a-z0-9]{40}/#).map { String($0.output) })
        // A token in a path opens what it names: the access line shows the route's place for it.
        let token = "bt_follow0secret0page0token"
        _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/verify/\(token)"), timeout: .seconds(30))
        var preview = HTTPClientRequest(url: "http://127.0.0.1:\(port)/verify/\(token)")
        preview.method = .HEAD
        _ = try await HTTPClient.shared.execute(preview, timeout: .seconds(30))
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/videos/generations")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(secret)")
        request.headers.add(name: "X-Request-Id", value: "follow-me-42")
        request.body = .bytes(ByteBuffer(string: #"{"model": "doubao-seedance-2.0", "prompt": "follow", "duration": 4}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.headers.first(name: "X-Request-Id") == "follow-me-42")
        let body = J(value: try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))))
        let taskID = try #require(body["data"][0]["task_id"].string)
        _ = await server.read(until: "video task finished", timeout: 60)
        let (out, _) = server.child.output()
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n").filter { !$0.isEmpty }
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == lines.count && !lines.isEmpty, "every stdout line is a JSON object")
        // Times in UTC, saying so: the same instant whatever the machine's zone.
        #expect(objects.allSatisfy { ($0["ts"] as? String)?.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/#) != nil }, "\(objects.first ?? [:])")
        let followed = objects.filter { $0["request_id"] as? String == "follow-me-42" }
        let access = try #require(followed.first { $0["message"] as? String == "request" }, "\(followed)")
        #expect(access["route"] as? String == "/v1/videos/generations" && access["status"] as? Int == 200 && access["method"] as? String == "POST")
        #expect((access["key"] as? String)?.hasPrefix("key_") == true && access["duration_ms"] != nil && access["level"] as? String == "info")
        let finished = try #require(followed.first { $0["message"] as? String == "video task finished" }, "\(followed)")
        #expect(finished["task"] as? String == taskID && finished["status"] as? String == "completed")
        // No secret reaches a log.
        #expect(!String(decoding: out, as: UTF8.self).contains(secret))
        let paths = objects.filter { $0["message"] as? String == "request" }.compactMap { $0["path"] as? String }
        #expect(paths.contains("/verify/{token}") && paths.contains("/v1/videos/generations"), "\(paths)")
        #expect(!String(decoding: out, as: UTF8.self).contains(token))
        let metrics = try await scrape(metricsPort)
        #expect(metric(metrics.text, "seedgate_tasks", ["status": "completed"]) == 1)
    }
}
