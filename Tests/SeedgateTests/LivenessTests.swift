import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateStore
import SeedgateSupport
import Testing

/// The person's side of a local check: the H5 page's form, sent as a phone's browser sends it.
extension Gateway {
    /// The token of an H5 link on this gateway (`.../verify/<token>`).
    static func token(ofLink link: String) throws -> String {
        let range = try #require(link.range(of: "/verify/"), "not a Seedgate verification link: \(link)")
        return String(link[range.upperBound...])
    }

    /// POSTs the page's multipart form: the consent box (when ticked) before the photo file.
    func sendPhoto(token: String, file: String = "good.png", consent: Bool = true) async throws -> Reply {
        let directory = try await MediaFixtures.prepare()
        let data = try #require(FileManager.default.contents(atPath: "\(directory)/\(file)"))
        let boundary = "----seedgate\(Identifiers.random(12))"
        var body = Data()
        if consent { body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"consent\"\r\n\r\nyes\r\n".utf8)) }
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"\(file)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
        body.append(data)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        let response = try await client.execute(
            uri: "/verify/\(token)", method: .post, headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
            body: ByteBuffer(data: body)
        )
        return Reply(status: Int(response.status.code), text: String(buffer: response.body), headers: response.headers)
    }

    /// Sends the test photo into `group` through crun's asset-upload and waits for its review to end; the
    /// asset's id and crun's asset-info at the end.
    func crunPhotoAsset(group: String, key: String) async throws -> (id: String, info: Reply) {
        let upload = try await post("/api/v1/client/job/asset-upload", key: key, header: .xAPIKey,
                                    #"{"name": "presenter", "asset_type": "Image", "asset_url": "\#(url("good.png"))", "group_id": "\#(group)"}"#)
        let assetID = try #require(upload.body["data"]["AssetId"].string, "\(upload.text)")
        let info = try await poll("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: key, header: .xAPIKey, limit: .seconds(120)) {
            $0["data"]["Status"].string != "Processing"
        }
        return (assetID, info)
    }

    /// Polls until `assetID`'s review ends, through toapis's asset view.
    func reviewedAsset(_ assetID: String, key: String) async throws -> Reply {
        try await poll("/v1/videos/doubao-seedance-2-0/private-avatar/assets/\(assetID)", key: key, limit: .seconds(120)) {
            $0["data"]["status"].string != "processing"
        }
    }
}

@Suite("Real-person verification (liveness) on the local engine")
struct LivenessTests {
    @Test("apimart: a session, the H5 page and its photo, the token traded for a LivenessFace group, Active assets in it, a generation that uses them, and the callback in apimart's envelope")
    func apimartJourney() async throws {
        let hook = WebhookReceiver(failures: 0)
        try await hook.start()
        try await withGateway(configure: { $0.livenessMode = .auto }) { gw in
            let key = try await gw.newKey()
            let created = try await gw.post("/v1/seedance2/real-avatar", key: key, #"{"callback_url": "\#(hook.url)", "project_name": "default"}"#)
            #expect(created.status == 200, "\(created.text)")
            #expect(created.body["code"].int == 200 && created.body["data"]["status"].string == "completed")
            let id = try #require(created.body["data"]["id"].string)
            let view = try await gw.get("/v1/tasks/\(id)", key: key)
            let token = try #require(view.body["data"]["result"]["byted_token"].string, "\(view.text)")
            let link = try #require(view.body["data"]["result"]["h5_link"].string)
            #expect(try Gateway.token(ofLink: link) == token)
            #expect(view.body["data"]["result"]["raw_response"]["Result"]["BytedToken"].string == token)
            #expect(view.body["data"]["result"]["verification"]["status"].string == "pending")

            // The person opens the link: a page made for a phone, with consent and the camera.
            let page = try await gw.get("/verify/\(token)", key: nil)
            #expect(page.status == 200)
            #expect(page.text.contains(#"capture="user""#) && page.text.contains(#"name="consent""#) && page.text.contains("viewport"))
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            // Asked before the person has finished, the token reads as pending, with no group.
            let early = try await gw.post("/v1/seedance2/real-avatar", key: key, #"{"byted_token": "\#(token)"}"#)
            #expect(early.body["data"]["status"].string == "pending" && early.body["data"]["group_id"].exists == false)

            let sent = try await gw.sendPhoto(token: token)
            #expect(sent.status == 303, "\(sent.text)")
            #expect(try await gw.get("/verify/\(token)", key: nil).text.contains(#"data-state="verified""#))
            let outcome = try await gw.post("/v1/seedance2/real-avatar", key: key, #"{"byted_token": "\#(token)", "project_name": "default"}"#)
            #expect(outcome.body["data"]["status"].string == "verified", "\(outcome.text)")
            #expect(outcome.body["data"]["group_type"].string == "LivenessFace")
            let group = try #require(outcome.body["data"]["group_id"].string)

            // Use 3: assets into the group (Video by default there; this one says Image).
            let submitted = try await gw.post("/v1/seedance2/real-avatar", key: key, #"""
                {"group_id": "\#(group)", "project_name": "default", "asset_type": "Image", "assets": [{"url": "\#(gw.url("good.png"))", "name": "presenter"}]}
                """#)
            #expect(submitted.status == 200, "\(submitted.text)")
            #expect(submitted.body["data"]["group_id"].string == group)
            let review = try await gw.finishedTask(try #require(submitted.body["data"]["id"].string), key: key)
            #expect(review.body["data"]["status"].string == "completed", "\(review.text)")
            let asset = try #require(review.body["data"]["result"]["asset_url"].string)
            // The default there is Video: a photo sent without asset_type is reviewed as a video and refused.
            let asVideo = try await gw.post("/v1/seedance2/real-avatar", key: key, #"{"group_id": "\#(group)", "assets": [{"url": "\#(gw.url("good.png"))"}]}"#)
            let videoReview = try await gw.finishedTask(try #require(asVideo.body["data"]["id"].string), key: key)
            #expect(videoReview.body["data"]["status"].string == "failed", "a photo is not a video: \(videoReview.text)")

            let task = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "The presenter waves at the camera", "image_urls": ["\#(asset)"], "duration": 4, "resolution": "480p"}"#, key: key)
            let video = try await gw.finishedVideo(task, key: key)
            #expect(video.body["data"]["status"].string == "completed", "\(video.text)")

            try await TestSupport.waitUntil("the verification's callback arrives") { !hook.requests.isEmpty }
            let callback = try #require(hook.requests.first)
            let body = J(value: try JSONSerialization.jsonObject(with: Data(callback.body.utf8)))
            #expect(body["data"]["id"].string == id)
            #expect(body["data"]["result"]["verification"]["status"].string == "verified")
            #expect(body["data"]["result"]["verification"]["group_id"].string == group)
            #expect(callback.signature.hasPrefix("v1,"))
            // The link is spent: a second photo changes nothing.
            #expect(try await gw.sendPhoto(token: token).text.contains(#"data-state="verified""#))
        }
    }

    @Test("toapis, operator mode: the photo waits for the operator, who approves it (as `seedgate liveness approve` does); verify-results gives the group; toapis's upload fills it; a toapis generation uses it")
    func toapisOperator() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let base = "/v1/videos/doubao-seedance-2-0/real-avatar"
            let created = try await gw.post("\(base)/verify-tasks", key: key, #"{"locale": "en-US", "biz_id": "presenter-7"}"#)
            #expect(created.status == 200 && created.body["success"].bool == true, "\(created.text)")
            let id = try #require(created.body["data"]["id"].string)
            let token = try #require(created.body["data"]["byted_token"].string)
            #expect(try Gateway.token(ofLink: try #require(created.body["data"]["h5_link"].string)) == token)
            #expect(created.body["data"]["biz_id"].string == "presenter-7" && created.body["data"]["expires_at"].int != nil)

            #expect(try await gw.sendPhoto(token: token).status == 303)
            let waiting = try await gw.get("\(base)/verify-tasks/\(id)", key: key)
            #expect(waiting.body["data"]["status"].string == "submitted", "\(waiting.text)")
            #expect(try await gw.get("\(base)/verify-results?byted_token=\(token)", key: key).body["data"]["group_id"].exists == false)
            #expect(try await gw.get("/verify/\(token)", key: nil).text.contains(#"data-state="submitted""#))

            let decided = try await LivenessService(store: gw.store, urlGuard: URLGuard(allowPrivate: false)).decide(id: id, approve: true, reason: nil)
            #expect(decided.status == .verified)
            let result = try await gw.get("\(base)/verify-results?byted_token=\(token)", key: key)
            #expect(result.body["data"]["status"].string == "verified", "\(result.text)")
            let group = try #require(result.body["data"]["group_id"].string)
            #expect(decided.groupID == group)
            // Deciding twice is refused with where it stands.
            await #expect(throws: SeedgateError.self) {
                _ = try await LivenessService(store: gw.store, urlGuard: URLGuard(allowPrivate: false)).decide(id: id, approve: false, reason: nil)
            }

            let upload = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/assets", key: key,
                                           #"{"group_id": "\#(group)", "asset_type": "image", "source_url": "\#(gw.url("good.png"))"}"#)
            #expect(upload.status == 200, "\(upload.text)")
            let assetID = try #require(upload.body["data"]["asset_id"].string)
            let asset = try await gw.reviewedAsset(assetID, key: key)
            #expect(asset.body["data"]["status"].string == "active" && asset.body["data"]["group_id"].string == group, "\(asset.text)")

            // A generation in toapis's own body that uses the real person.
            let request = try DialectTranslation.object(#"{"model": "doubao-seedance-2.0", "prompt": "The presenter waves", "image_urls": ["asset://\#(assetID)"], "duration": 4, "resolution": "480p"}"#)
            let task = try await gw.generateToapis(try DialectTranslation.toapis(request), key: key)
            let video = try await gw.poll("/v1/videos/generations/\(task)", key: key, limit: .seconds(180)) { ["completed", "failed"].contains($0["status"].string ?? "") }
            #expect(video.body["status"].string == "completed", "\(video.text)")
        }
    }

    @Test("crun: visual-validate-session, the result's resultCode (10000 once verified), asset-upload with group_id, a CreateTask that uses it")
    func crunJourney() async throws {
        try await withGateway(configure: { $0.livenessMode = .auto }) { gw in
            let key = try await gw.newKey()
            let created = try await gw.post("/api/v1/client/job/visual-validate-session", key: key, header: .xAPIKey, #"{"callback_url": "https://example.com/cb"}"#)
            #expect(created.status == 200 && created.body["code"].int == 200, "\(created.text)")
            let token = try #require(created.body["data"]["BytedToken"].string)
            #expect(created.body["data"]["CallbackURL"].string == "https://example.com/cb")
            let link = try #require(created.body["data"]["H5Link"].string)
            let before = try await gw.get("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: key, header: .xAPIKey)
            #expect(before.body["data"]["resultCode"].int == 10001 && before.body["data"]["GroupId"].exists == false, "\(before.text)")

            #expect(try await gw.sendPhoto(token: try Gateway.token(ofLink: link)).status == 303)
            let after = try await gw.get("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: key, header: .xAPIKey)
            #expect(after.body["data"]["resultCode"].int == 10000, "\(after.text)")
            let group = try #require(after.body["data"]["GroupId"].string)
            let (assetID, info) = try await gw.crunPhotoAsset(group: group, key: key)
            #expect(info.body["data"]["Status"].string == "Active" && info.body["data"]["GroupId"].string == group, "\(info.text)")

            // A generation in crun's own body that uses the real person.
            let request = try DialectTranslation.object(#"{"model": "doubao-seedance-2.0", "prompt": "The presenter waves", "image_urls": ["asset://\#(assetID)"], "duration": 4, "resolution": "480p"}"#)
            let task = try await gw.generateCrun(try DialectTranslation.crun(request), key: key)
            let video = try await gw.poll("/api/v1/client/job/TaskInfo?task_id=\(task)", key: key, header: .xAPIKey, limit: .seconds(180)) {
                ["success", "failed"].contains($0["data"]["status"].string ?? "")
            }
            #expect(video.body["data"]["status"].string == "success", "\(video.text)")
        }
    }

    @Test("a refused check ends failed with the operator's reason in every view and on the page; a link nobody opens expires (the callback says so); the page refuses a form without consent, without a photo, or not its form")
    func refusedAndExpired() async throws {
        let hook = WebhookReceiver(failures: 0)
        try await hook.start()
        let clock = OffsetClock()
        try await withGateway(configure: { $0.clock = clock }) { gw in
            let key = try await gw.newKey()
            let first = try await gw.post("/api/v1/client/job/visual-validate-session", key: key, #"{}"#)
            let token = try #require(first.body["data"]["BytedToken"].string, "\(first.text)")
            let id = try #require(first.body["data"]["TaskId"].string)

            let noConsent = try await gw.sendPhoto(token: token, consent: false)
            #expect(noConsent.status == 400 && noConsent.text.contains("tick the box"), "\(noConsent.text)")
            let notAPhoto = try await gw.sendPhoto(token: token, file: "audio.wav")
            #expect(notAPhoto.status == 400 && notAPhoto.text.contains("not a photo"), "\(notAPhoto.text)")
            // Not the page's form at all: the page says so, with a 400 (it was a bare 500).
            let notAForm = try await gw.post("/verify/\(token)", key: nil, #"{"photo": "x"}"#)
            #expect(notAForm.status == 400 && notAForm.text.contains("not a photo"), "\(notAForm.text)")
            #expect(try await gw.sendPhoto(token: token).status == 303)
            _ = try await LivenessService(store: gw.store, urlGuard: URLGuard(allowPrivate: false))
                .decide(id: id, approve: false, reason: "the photo shows a screen, not a person")
            let result = try await gw.get("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: key)
            #expect(result.body["data"]["Status"].string == "failed" && result.body["data"]["resultCode"].int == 20001)
            #expect(result.body["data"]["Error"]["Message"].string?.contains("shows a screen") == true, "\(result.text)")
            #expect(try await gw.get("/verify/\(token)", key: nil).text.contains("shows a screen"))

            // Nobody opens this one: past the link's 120 s it is expired, and its callback says so.
            let second = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, #"{"callback_url": "\#(hook.url)"}"#)
            let secondID = try #require(second.body["data"]["id"].string)
            let secondToken = try #require(second.body["data"]["byted_token"].string)
            clock.advance(by: .seconds(121))
            #expect(try await gw.get("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks/\(secondID)", key: key).body["data"]["status"].string == "expired")
            try await TestSupport.waitUntil("the expiry's callback arrives", limit: .seconds(30)) { !hook.requests.isEmpty }
            let body = J(value: try JSONSerialization.jsonObject(with: Data(try #require(hook.requests.first).body.utf8)))
            #expect(body["data"]["status"].string == "expired" && body["data"]["id"].string == secondID, "toapis's verify task in toapis's envelope")
            #expect(body["data"]["error"]["code"].string == "verification_expired")
            let page = try await gw.get("/verify/\(secondToken)", key: nil)
            #expect(page.status == 410 && page.text.contains(#"data-state="expired""#))
            #expect(try await gw.sendPhoto(token: secondToken).text.contains(#"data-state="expired""#), "an expired link takes no photo")
            #expect(try await gw.get("/verify/bt_unknown", key: nil).status == 404)

            // A photo over the 30 MB limit: the page says so, with a 413 (it was a bare 500). Last, since
            // the server may close the connection after refusing a body this large.
            let third = try await gw.post("/api/v1/client/job/visual-validate-session", key: key, #"{}"#)
            let thirdToken = try #require(third.body["data"]["BytedToken"].string)
            let big = try await gw.client.execute(
                uri: "/verify/\(thirdToken)", method: .post, headers: [.contentType: "multipart/form-data; boundary=x"],
                body: ByteBuffer(repeating: 0x61, count: 31 << 20)
            )
            #expect(big.status == .contentTooLarge && String(buffer: big.body).contains("too large"), "\(big.status)")
        }
    }

    @Test("a key holds at most its max_in_flight verifications open, in every dialect's 429; one that expires or ends makes room; creates at once cannot pass it together", arguments: Backend.all)
    func openSessionsLimited(backend: Backend) async throws {
        let clock = OffsetClock()
        try await withGateway(backend: backend, configure: { $0.clock = clock }) { gw in
            let key = try await gw.store.createKey(name: "few", credits: 1_000_000, maxInFlight: 2).secret
            // apimart asks for a callback; the others take it too.
            let body = #"{"callback_url": "http://127.0.0.1:9/hook"}"#
            let paths = [
                ("apimart", "/v1/seedance2/real-avatar"), ("toapis", "/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks"),
                ("crun", "/api/v1/client/job/visual-validate-session"),
            ]
            let first = try await gw.post(paths[1].1, key: key, "{}")
            let firstToken = try #require(first.body["data"]["byted_token"].string, "\(first.text)")
            #expect(try await gw.post(paths[2].1, key: key, "{}").status == 200)
            for (dialect, path) in paths {
                let refused = try await gw.post(path, key: key, body)
                #expect(refused.status == 429, "\(dialect): \(refused.text)")
                #expect(refused.text.contains("this key has 2 verifications open"), "\(dialect): \(refused.text)")
                // crun's error envelope is its code and message alone.
                #expect(dialect == "crun" || refused.text.contains("too_many_open_verifications"), "\(dialect): \(refused.text)")
                #expect(refused.headers[.retryAfter] != nil, "\(dialect)")
            }
            // The first sends its photo (it still waits, for the operator), the other's link expires.
            #expect(try await gw.sendPhoto(token: firstToken).status == 303)
            clock.advance(by: .seconds(121))
            #expect(try await gw.post(paths[0].1, key: key, body).status == 200, "the expired one made room")
            #expect(try await gw.post(paths[0].1, key: key, body).status == 429, "the photo waiting for the operator still counts")

            // Twelve stored at once for a fresh key with room for three (the store's own count, past the
            // service's look before it): exactly three are made.
            let busy = try await gw.store.createKey(name: "busy", credits: 1_000_000).key
            let request = LivenessRequest(projectName: "default", callbackURL: nil, dialect: .toapis)
            let made = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        do {
                            _ = try await gw.store.createLivenessSession(
                                keyID: busy.id, request: request, expiresAt: clock.now.addingTimeInterval(120), upstream: nil, openLimit: 3)
                            return true
                        } catch let error as SeedgateError where error.code == "too_many_open_verifications" {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(made == 3, "\(made) of 12 made")
            #expect(try await gw.store.openLivenessSessions(keyID: busy.id) == 3)
        }
    }

    @Test("a photo left with the person's deadline (by a server of the version before) gets the operator's window from when it came, or from now when that has passed; one given its window is left alone; none expires for it", arguments: Backend.all)
    func shortDeadlinesGetTheWindow(backend: Backend) async throws {
        // No workers: the test runs the sweep itself, with its own window.
        try await withGateway(backend: backend, configure: { $0.runWorkers = false }) { gw in
            let key = try await gw.newKey()
            var made: [String] = []
            for _ in 0..<3 {
                let reply = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, "{}")
                #expect(try await gw.sendPhoto(token: try #require(reply.body["data"]["byted_token"].string)).status == 303)
                made.append(try #require(reply.body["data"]["id"].string))
            }
            let ids = made
            // As the version before left them: the person's deadline kept, one photo sent two days ago,
            // one a minute ago. The third is as this version wrote it (a day from its photo).
            let now = Epoch.millis(Date())
            let (longAgo, recently) = (now - 2 * 86_400_000, now - 60_000)
            try await gw.store.provider.transaction { db in
                try await db.raw("UPDATE tasks SET started_at = \(bind: longAgo), deadline_at = \(bind: longAgo + 300_000) WHERE id = \(bind: ids[0])").run()
                try await db.raw("UPDATE tasks SET started_at = \(bind: recently), deadline_at = \(bind: recently + 300_000) WHERE id = \(bind: ids[1])").run()
            }
            let untouched = try #require(try await gw.store.livenessSession(id: ids[2], keyID: nil)).expiresAt
            // Until the sweep, the long-waiting photo is past its (old) deadline: not listed as waiting.
            #expect(try await Set(gw.store.livenessSessions(keyID: nil, status: .submitted, limit: 10).map(\.id)) == [ids[1], ids[2]])
            for _ in 0..<2 {
                #expect(try await gw.store.expireLivenessSessions(limit: 10, decisionWindow: .seconds(3600)).isEmpty, "nothing expires")
            }
            let after = Epoch.millis(Date())
            let sessions = try await ids.asyncMap { id in try #require(try await gw.store.livenessSession(id: id, keyID: nil)) }
            let deadline = Epoch.millis(sessions[0].expiresAt)
            #expect(deadline >= now + 3_600_000 && deadline <= after + 3_600_000, "the long-waiting photo: an hour from now")
            #expect(Epoch.millis(sessions[1].expiresAt) == recently + 3_600_000, "the recent one: an hour from its photo")
            #expect(sessions[2].expiresAt == untouched, "this version's deadline stays")
            #expect(sessions.allSatisfy { $0.status(at: Date()) == .submitted })
            #expect(try await Set(gw.store.livenessSessions(keyID: nil, status: .submitted, limit: 10).map(\.id)) == Set(ids), "all three wait now")
            // Soonest due first: a list cut short leaves out the one with the most time left, not the oldest.
            #expect(try await gw.store.livenessSessions(keyID: nil, status: .submitted, limit: 2).map(\.id) == [ids[1], ids[0]])
            // And the operator can still decide the long-waiting one.
            let decided = try await LivenessService(store: gw.store, urlGuard: URLGuard(allowPrivate: false)).decide(id: ids[0], approve: true, reason: nil)
            #expect(decided.status == .verified)
        }
    }

    @Test("a photo the operator does not decide within --liveness-decision-ttl expires: every view and the callback say why, the operator can no longer approve it, and one decided in time is not touched")
    func undecidedExpires() async throws {
        let hook = WebhookReceiver(failures: 0)
        try await hook.start()
        let clock = OffsetClock()
        try await withGateway(configure: { $0.clock = clock; $0.livenessDecisionWindow = .seconds(3600) }) { gw in
            let key = try await gw.newKey()
            let body = #"{"callback_url": "\#(hook.url)"}"#
            let waiting = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, body)
            let waitingID = try #require(waiting.body["data"]["id"].string, "\(waiting.text)")
            let decided = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, body)
            let decidedID = try #require(decided.body["data"]["id"].string)
            for reply in [waiting, decided] {
                #expect(try await gw.sendPhoto(token: try #require(reply.body["data"]["byted_token"].string)).status == 303)
            }
            let service = LivenessService(store: gw.store, urlGuard: URLGuard(allowPrivate: false))
            // Within the window (the link's 120 s and the photo's 600 s long past), both still wait.
            clock.advance(by: .seconds(3000))
            _ = try await service.decide(id: decidedID, approve: true, reason: nil)
            let view = "/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks/"
            #expect(try await gw.get(view + waitingID, key: key).body["data"]["status"].string == "submitted")

            clock.advance(by: .seconds(601))
            let expired = try await gw.get(view + waitingID, key: key)
            #expect(expired.body["data"]["status"].string == "expired", "\(expired.text)")
            #expect(expired.body["data"]["error"]["code"].string == "verification_expired")
            #expect(expired.body["data"]["error"]["message"].string == "the operator did not decide in time", "\(expired.text)")
            let page = try await gw.get("/verify/\(try #require(waiting.body["data"]["byted_token"].string))", key: nil)
            #expect(page.status == 410 && page.text.contains("not reviewed in time"), "the person's page says why: \(page.status) \(page.text.components(separatedBy: "<h1").last?.prefix(300) ?? "")")
            await #expect(throws: SeedgateError.self, "past its window the operator can no longer approve it") {
                try await service.decide(id: waitingID, approve: true, reason: nil)
            }
            try await TestSupport.waitUntil("the expiry's callback arrives", limit: .seconds(30)) {
                hook.requests.contains { $0.body.contains(waitingID) && $0.body.contains("expired") }
            }
            let callback = try #require(hook.requests.first { $0.body.contains(waitingID) && $0.body.contains("expired") })
            #expect(callback.body.contains("the operator did not decide in time"), "\(callback.body)")
            let stored = try #require(try await gw.store.livenessSession(id: waitingID, keyID: nil))
            #expect(stored.status == .expired && stored.groupID == nil, "the sweeper wrote it expired, with no group")
            #expect(try await gw.get(view + decidedID, key: key).body["data"]["status"].string == "verified", "the one decided in time stays verified")
            #expect(try await gw.store.livenessSessions(keyID: nil, status: .submitted, limit: 10).isEmpty, "nothing waits for the operator any more")

            // The live photos of ended checks are deleted with the results' retention; a waiting one stays.
            let third = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, body)
            let thirdID = try #require(third.body["data"]["id"].string)
            #expect(try await gw.sendPhoto(token: try #require(third.body["data"]["byted_token"].string)).status == 303)
            let blobs = try LocalBlobStore(root: "\(gw.dataDirectory)/blobs")
            let photos = try await [waitingID, decidedID, thirdID].asyncMap { id in try #require(try await gw.store.livenessSession(id: id, keyID: nil)?.photoKey) }
            for photo in photos { #expect(try await blobs.size(of: photo) != nil, "each photo is kept while its check is open or recent") }
            let sweeper = RetentionSweeper(store: gw.store, blobs: blobs, retention: .seconds(3600), logger: TestSupport.logger)
            try await sweeper.sweep(now: clock.now)
            #expect(try await blobs.size(of: photos[0]) != nil, "within retention the expired check's photo stays")
            #expect(try await blobs.size(of: photos[1]) != nil, "and the verified one's")
            try await sweeper.sweep(now: clock.now.addingTimeInterval(3600 + 60))
            #expect(try await blobs.size(of: photos[0]) == nil, "past retention the expired check's photo is deleted")
            #expect(try await blobs.size(of: photos[1]) == nil, "and the verified one's")
            #expect(try await gw.store.livenessSession(id: waitingID, keyID: nil)?.photoKey == nil)
            #expect(try await gw.store.livenessSession(id: decidedID, keyID: nil)?.groupID != nil, "the verified check keeps its group")
            #expect(try await blobs.size(of: photos[2]) != nil, "the photo still waiting for the operator stays")
            #expect(try await gw.store.livenessSession(id: thirdID, keyID: nil)?.photoKey == photos[2])
        }
    }

    @Test("one key never reads another's session, trades its token, or fills its group; a plain group is not a real-person group; bad input names the field, in the dialect's envelope")
    func isolationAndValidation() async throws {
        try await withGateway(configure: { $0.livenessMode = .auto }) { gw in
            let alice = try await gw.newKey("alice"), bob = try await gw.newKey("bob")
            let created = try await gw.post("/v1/seedance2/real-avatar", key: alice, #"{"callback_url": "https://example.com/hook"}"#)
            let id = try #require(created.body["data"]["id"].string)
            let token = try #require(try await gw.get("/v1/tasks/\(id)", key: alice).body["data"]["result"]["byted_token"].string)
            #expect(try await gw.sendPhoto(token: token).status == 303)
            let group = try #require(try await gw.post("/v1/seedance2/real-avatar", key: alice, #"{"byted_token": "\#(token)"}"#).body["data"]["group_id"].string)

            #expect(try await gw.get("/v1/tasks/\(id)", key: bob).status == 404)
            #expect(try await gw.get("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks/\(id)", key: bob).status == 404)
            let traded = try await gw.post("/v1/seedance2/real-avatar", key: bob, #"{"byted_token": "\#(token)"}"#)
            #expect(traded.status == 404 && traded.text.contains("byted_token"), "\(traded.text)")
            #expect(try await gw.get("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: bob).status == 404)
            let filled = try await gw.post("/v1/seedance2/real-avatar", key: bob, #"{"group_id": "\#(group)", "assets": [{"url": "\#(gw.url("good.png"))"}]}"#)
            #expect(filled.status == 404 && filled.text.contains("group_id"), "\(filled.text)")
            let crunFilled = try await gw.post("/api/v1/client/job/asset-upload", key: bob, #"{"name": "x", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))", "group_id": "\#(group)"}"#)
            #expect(crunFilled.status == 404, "\(crunFilled.text)")

            let plain = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/groups", key: alice, #"{"name": "plain"}"#)
            let plainID = try #require(plain.body["data"]["group_id"].string)
            let wrongGroup = try await gw.post("/v1/seedance2/real-avatar", key: alice, #"{"group_id": "\#(plainID)", "assets": [{"url": "\#(gw.url("good.png"))"}]}"#)
            #expect(wrongGroup.status == 400 && wrongGroup.text.contains("not a real-person group"), "\(wrongGroup.text)")

            let noCallback = try await gw.post("/v1/seedance2/real-avatar", key: alice, #"{"project_name": "default"}"#)
            #expect(noCallback.status == 400 && noCallback.body["error"]["message"].string?.hasPrefix("callback_url") == true, "\(noCallback.text)")
            let badCallback = try await gw.post("/v1/seedance2/real-avatar", key: alice, #"{"callback_url": "ftp://example.com/x"}"#)
            #expect(badCallback.status == 400 && badCallback.text.contains("callback_url"), "\(badCallback.text)")
            let unknown = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: alice, #"{"callback": "x"}"#)
            #expect(unknown.status == 400 && unknown.body["success"].bool == false && unknown.text.contains("callback"), "\(unknown.text)")
            let longBiz = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: alice, #"{"biz_id": "\#(String(repeating: "b", count: 65))"}"#)
            #expect(longBiz.status == 400 && longBiz.text.contains("biz_id"), "\(longBiz.text)")
            let noToken = try await gw.get("/api/v1/client/job/visual-validate-result", key: alice)
            #expect(noToken.status == 422 && noToken.text.contains("byted_token"), "crun answers a missing field with its 422")
            #expect(noToken.text.contains("byted_token"), "\(noToken.status) \(noToken.text)")
            let nowhere = try await gw.get("/v1/videos/doubao-seedance-2-0/real-avatar/nowhere", key: alice)
            #expect(nowhere.status == 404 && nowhere.body["success"].bool == false, "toapis's paths answer in toapis's envelope: \(nowhere.text)")
        }
    }
}

@Suite("Real-person verification on an Ark channel (the Ark test double)")
struct UpstreamLivenessTests {
    @Test("the session is made upstream (signed CreateVisualValidateSession), the person finishes upstream's page, GetVisualValidateResult's group is pinned to the channel and its assets are created in it; a refused account does not fail the person's check; a failed check ends with upstream's reason; one nobody finishes expires")
    func arkLiveness() async throws {
        let fake = try await FakeArk.start()
        try await withUpstreamGateway([fake.channel(name: "ark-a")], callbacks: false) { gw in
            let key = try await gw.newKey()
            let created = try await gw.post("/api/v1/client/job/visual-validate-session", key: key, header: .xAPIKey, #"{}"#)
            #expect(created.status == 200, "\(created.text)")
            let token = try #require(created.body["data"]["BytedToken"].string)
            let link = try #require(created.body["data"]["H5Link"].string)
            #expect(link.hasPrefix(fake.openapiURL + "/h5/"), "the person completes upstream's page: \(link)")
            #expect(fake.actions.contains("CreateVisualValidateSession") && fake.signatureFailures == 0)
            // The account is refused for a while (overdue): that says nothing of the person, whose check goes on.
            fake.update { $0.assetCalls = .accountOverdue }
            try await TestSupport.waitUntil("a result check was refused") { fake.refusedAssetCalls > 0 }
            let meanwhile = try await gw.get("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: key, header: .xAPIKey)
            #expect(meanwhile.body["data"]["Status"].string != "failed", "\(meanwhile.text)")
            fake.update { $0.assetCalls = .normal }
            // The person passes upstream's check.
            let finished = try await HTTPClientSupport.get(link + "?outcome=pass")
            #expect(finished == 200)
            let result = try await gw.poll("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: key, header: .xAPIKey) {
                $0["data"]["resultCode"].int == 10000
            }
            let group = try #require(result.body["data"]["GroupId"].string, "\(result.text)")
            let upstreamGroup = try #require(fake.livenessGroups.first)
            #expect(try await gw.store.groupBindings(groupID: group).map(\.upstreamID) == [upstreamGroup])
            let (_, info) = try await gw.crunPhotoAsset(group: group, key: key)
            #expect(info.body["data"]["Status"].string == "Active", "\(info.text)")
            #expect(fake.assets.contains { $0.groupID == upstreamGroup }, "the asset was created in upstream's LivenessFace group")

            // One that fails upstream, and one nobody finishes.
            let failing = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, #"{}"#)
            let failingLink = try #require(failing.body["data"]["h5_link"].string)
            #expect(try await HTTPClientSupport.get(failingLink + "?outcome=fail") == 200)
            // Upstream's lifetime is short only now: on a loaded machine the sessions above could
            // otherwise outlive it before their person finished.
            fake.update { $0.livenessLifetime = .seconds(2) }
            let abandoned = try await gw.post("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks", key: key, #"{}"#)
            for (id, expected, reason) in [
                (try #require(failing.body["data"]["id"].string), "failed", "not a live person"),
                (try #require(abandoned.body["data"]["id"].string), "expired", "expired"),
            ] {
                let view = try await gw.poll("/v1/videos/doubao-seedance-2-0/real-avatar/verify-tasks/\(id)", key: key) {
                    ["failed", "expired", "verified"].contains($0["data"]["status"].string ?? "")
                }
                #expect(view.body["data"]["status"].string == expected, "\(view.text)")
                #expect(view.body["data"]["error"]["message"].string?.contains(reason) == true, "\(view.text)")
            }
            #expect(fake.signatureFailures == 0)
        }
    }
}

extension UpstreamLivenessTests {
    @Test("a real-person group verified by Seedgate itself is never made upstream as a plain group once an asset channel appears: its asset fails, by name")
    func localGroupOnArkChannel() async throws {
        let directory = TestSupport.temporaryDirectory()
        // First without channels: Seedgate verifies the person itself.
        let (key, group) = try await withGateway(dataDirectory: directory, configure: { $0.livenessMode = .auto }) { gw in
            let key = try await gw.newKey()
            let created = try await gw.post("/api/v1/client/job/visual-validate-session", key: key, header: .xAPIKey, #"{}"#)
            #expect(try await gw.sendPhoto(token: try #require(created.body["data"]["BytedToken"].string, "\(created.text)")).status == 303)
            let token = try #require(created.body["data"]["BytedToken"].string)
            let result = try await gw.get("/api/v1/client/job/visual-validate-result?byted_token=\(token)", key: key, header: .xAPIKey)
            return (key, try #require(result.body["data"]["GroupId"].string, "\(result.text)"))
        }
        // Then the same data with an Ark account that has an asset library.
        let fake = try await FakeArk.start()
        let file = try channelsFile([fake.channel(name: "ark-a")])
        try await withGateway(dataDirectory: directory, configure: { config in
            config.channelsFile = file
            config.upstream.assetPollInterval = .milliseconds(100)
        }) { gw in
            let (_, info) = try await gw.crunPhotoAsset(group: group, key: key)
            #expect(info.body["data"]["Status"].string == "Failed", "\(info.text)")
            #expect(info.text.contains("verified by Seedgate"), "\(info.text)")
            #expect(!fake.actions.contains("CreateAssetGroup"), "no plain group was made upstream for a real person")
        }
    }
}

/// A plain GET from the test process (the person's phone on upstream's page).
enum HTTPClientSupport {
    static func get(_ url: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        return Int(response.status.code)
    }
}
