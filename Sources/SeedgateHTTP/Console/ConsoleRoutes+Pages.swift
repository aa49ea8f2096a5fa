import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SeedgateDomain
import SeedgateSupport

extension ConsoleRoutes {
    // MARK: The operator's pages

    func registerOperatorPages(_ group: RouterGroup<AppRequestContext>) {
        get(group, "overview") { _, _, visit in
            let overview = try await console.overview(visit.role)
            let t = visit.strings
            let statusRows = VideoStatus.allCases.map { status in
                (label: t[status.rawValue] ?? status.rawValue, value: overview.tasksByStatus[status.rawValue] ?? 0, tone: Self.tone(status))
            }
            let dayRows = VideoStatus.allCases.map { status in
                (label: t[status.rawValue] ?? status.rawValue, value: overview.tasksByStatus24h[status.rawValue] ?? 0, tone: Self.tone(status))
            }
            // Assets by review state (an asset is processing, active or failed).
            let reviewRows = AssetStatus.allCases.map(\.rawValue).map { status in
                (label: t[status] ?? status, value: overview.reviewsByStatus[status] ?? 0, tone: status == "failed" ? "bad" : status == "active" ? "good" : "busy")
            }
            let finished = overview.finishedPerHour.reduce(0) { $0 + $1.completed + $1.failed }
            return views.page("overview", [
                "chart_now": ConsoleCharts.bars(statusRows),
                "chart_24h": ConsoleCharts.bars(dayRows),
                "chart_hourly": ConsoleCharts.hourly(overview.finishedPerHour, now: Date()),
                "chart_reviews": ConsoleCharts.bars(reviewRows),
                "chart_failures": overview.failuresByCode.isEmpty ? "" : ConsoleCharts.bars(overview.failuresByCode.prefix(8).map { (label: $0.code, value: $0.count, tone: "bad") }),
                "charged": Self.number(overview.charged24h), "released": Self.number(overview.released24h),
                "keys": overview.keys, "finished_24h": finished,
                "in_flight": (overview.tasksByStatus["pending"] ?? 0) + (overview.tasksByStatus["processing"] ?? 0),
                "made_24h": overview.tasksByStatus24h.values.reduce(0, +),
            ], frame: frame(visit, title: t["overview"] ?? "", section: "overview"))
        }

        get(group, "keys") { _, _, visit in
            try await keysPage(visit, created: nil, error: nil)
        }
        post(group, "keys") { _, _, visit, form in
            do {
                let made = try await console.createKey(
                    visit.role, name: form["name"] ?? "", credits: try Self.integer(form, "credits") ?? 0,
                    rpm: try Self.int(form, "rpm"), maxInFlight: try Self.int(form, "max_in_flight")
                )
                return try await keysPage(visit, created: (made.key, made.secret), error: nil)
            } catch let error as SeedgateError where error.kind == .invalidRequest {
                return try await keysPage(visit, created: nil, error: error, status: .badRequest)
            }
        }
        get(group, "keys/:id") { request, context, visit in
            try await keyPage(visit, id: try context.parameters.require("id"), done: request.uri.queryParameters.get("done"))
        }
        post(group, "keys/:id/revoke") { _, context, visit, _ in
            let id = try context.parameters.require("id")
            try await console.revokeKey(visit.role, id: id)
            return Self.redirect("/console/keys/\(id)?done=done")
        }
        post(group, "keys/:id/limits") { _, context, visit, form in
            let id = try context.parameters.require("id")
            do {
                try await console.setLimits(visit.role, id: id, rpm: try Self.int(form, "rpm"), maxInFlight: try Self.int(form, "max_in_flight"))
            } catch let error as SeedgateError where error.kind == .invalidRequest {
                return try await keyPage(visit, id: id, done: nil, error: error, status: .badRequest)
            }
            return Self.redirect("/console/keys/\(id)?done=limits_saved")
        }
        post(group, "keys/:id/credits") { _, context, visit, form in
            let id = try context.parameters.require("id")
            do {
                try await console.grant(visit.role, id: id, amount: try Self.integer(form, "amount") ?? 0, note: form.text("note") ?? "")
            } catch let error as SeedgateError where error.kind == .invalidRequest {
                return try await keyPage(visit, id: id, done: nil, error: error, status: .badRequest)
            }
            return Self.redirect("/console/keys/\(id)?done=credits_added")
        }
        post(group, "keys/:id/webhook-secret") { _, context, visit, _ in
            let id = try context.parameters.require("id")
            let secret = try await console.rotateWebhookSecret(visit.role, id: id)
            return try await keyPage(visit, id: id, done: nil, secret: secret)
        }

        get(group, "channels") { _, _, visit in
            try await channelsPage(visit, results: nil)
        }
        post(group, "channels/check") { _, _, visit, _ in
            try ConsoleService.requireOperator(visit.role)
            let results = await channels?.check() ?? []
            return try await channelsPage(visit, results: results)
        }
    }

    private func keysPage(
        _ visit: Visit, created: (key: APIKey, secret: String)?, error: SeedgateError?, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let rows = try await console.keys(visit.role)
        return views.page("keys", [
            "keys": rows.map { row in
                [
                    "id": row.key.id, "name": row.key.name, "created": Self.date(row.key.createdAt), "revoked": row.key.revokedAt != nil,
                    "balance": Self.number(row.account?.balance ?? 0), "held": Self.number(row.account?.held ?? 0),
                    "spent": Self.number(row.account?.spent ?? 0), "rpm": row.account?.rpm ?? 0, "max_in_flight": row.account?.maxInFlight ?? 0,
                ] as [String: Any]
            },
            "created": created.map { ["id": $0.key.id, "name": $0.key.name, "secret": $0.secret] } as Any,
            "error": error.map { ["param": $0.param ?? "", "message": $0.message] } as Any,
        ], frame: frame(visit, title: visit.strings["keys"] ?? "", section: "keys"), status: status)
    }

    private func keyPage(
        _ visit: Visit, id: String, done: String?, error: SeedgateError? = nil, secret: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        try ConsoleService.requireOperator(visit.role)
        let (key, account, ledger) = try await console.account(visit.role, keyID: id)
        let recent = try await console.tasks(visit.role, query: ConsoleTaskQuery(keyID: id), page: 1, size: 10)
        return views.page("key", [
            "key": ["id": key.id, "name": key.name, "created": Self.date(key.createdAt), "revoked": key.revokedAt != nil,
                    "revoked_at": key.revokedAt.map(Self.date) ?? ""],
            "account": Self.account(account),
            "ledger": ledger.map(Self.ledgerRow),
            "tasks": recent.tasks.map { Self.taskRow($0, visit) },
            "done": done.flatMap(visit.doneMessage) as Any,
            "error": error.map { ["param": $0.param ?? "", "message": $0.message] } as Any,
            "new_secret": secret as Any,
        ], frame: frame(visit, title: key.name, section: "keys"), status: status)
    }

    private func channelsPage(_ visit: Visit, results: [(channel: String, ok: Bool, line: String)]?) async throws -> Response {
        try ConsoleService.requireOperator(visit.role)
        let statuses = await channels?.status() ?? []
        return views.page("channels", [
            "channels": statuses.map { channel in
                [
                    "name": channel.name, "kind": channel.kind, "base_url": channel.baseURL, "priority": channel.priority,
                    "in_flight": channel.inFlight, "max_in_flight": channel.maxInFlight, "state": channel.state,
                    "state_label": visit.strings[channel.state] ?? channel.state,
                    "cooling_until": channel.coolingUntil.map(Self.date) ?? "", "failures": channel.failuresInARow,
                    "errors": channel.recentErrors.map { ["at": Self.date($0.at), "message": $0.message] },
                    "tone": channel.state == "healthy" ? "good" : channel.state == "cooling" ? "bad" : "busy",
                ] as [String: Any]
            },
            "any": !statuses.isEmpty,
            "results": results.map { $0.map { ["channel": $0.channel, "ok": $0.ok, "line": $0.line] as [String: Any] } } as Any,
        ], frame: frame(visit, title: visit.strings["channels"] ?? "", section: "channels"))
    }

    // MARK: Tasks and assets (both roles; an owner sees their key's only)

    func registerTaskPages(_ group: RouterGroup<AppRequestContext>) {
        get(group, "tasks") { request, _, visit in
            let q = request.uri.queryParameters
            let filter = ConsoleTaskQuery(
                keyID: q.get("key").flatMap { $0.isEmpty ? nil : $0 },
                status: q.get("status").flatMap(VideoStatus.init(rawValue:)),
                model: q.get("model").flatMap { $0.isEmpty ? nil : $0 },
                dialect: q.get("dialect").flatMap(Dialect.init(rawValue:)),
                since: q.get("from").flatMap(Self.day), until: q.get("to").flatMap(Self.day).map { $0.addingTimeInterval(86_400) }
            )
            let page = max(1, min(10_000, q.get("page").flatMap(Int.init) ?? 1))
            let size = 25
            let found = try await console.tasks(visit.role, query: filter, page: page, size: size)
            let keys = visit.role.isOperator ? try await console.keys(visit.role).map(\.key) : []
            var base = [String: String]()
            for name in ["key", "status", "model", "dialect", "from", "to"] { if let value = q.get(name), !value.isEmpty { base[name] = value } }
            func link(_ page: Int) -> String {
                var items = URLComponents()
                items.queryItems = (base.sorted { $0.key < $1.key } + [("page", String(page))]).map { URLQueryItem(name: $0.0, value: $0.1) }
                return "/console/tasks?" + (items.percentEncodedQuery ?? "")
            }
            let pages = max(1, (found.total + size - 1) / size)
            return views.page("tasks", [
                "tasks": found.tasks.map { Self.taskRow($0, visit) },
                "total": found.total, "page": page, "pages": pages,
                "previous": page > 1 ? link(page - 1) : "", "next": page < pages ? link(page + 1) : "",
                "keys": keys.map { ["id": $0.id, "name": $0.name, "selected": $0.id == filter.keyID] as [String: Any] },
                "statuses": VideoStatus.allCases.map { ["value": $0.rawValue, "label": visit.strings[$0.rawValue] ?? $0.rawValue, "selected": $0 == filter.status] as [String: Any] },
                "models": catalog.specs.map { ["value": $0.name, "selected": $0.name == filter.model] as [String: Any] },
                "dialects": Dialect.allCases.map { ["value": $0.rawValue, "selected": $0 == filter.dialect] as [String: Any] },
                "from": q.get("from") ?? "", "to": q.get("to") ?? "",
            ], frame: frame(visit, title: visit.strings["tasks"] ?? "", section: "tasks"))
        }
        // A task's page: a video task's, or an asset review's (the ids share one space).
        get(group, "tasks/:id") { request, context, visit in
            let id = try context.parameters.require("id")
            do {
                let task = try await console.task(visit.role, id: id)
                return try await taskPage(visit, task: task, done: request.uri.queryParameters.get("done"))
            } catch let error as SeedgateError where error.kind == .notFound {
                return reviewPage(visit, task: try await console.reviewTask(visit.role, id: id))
            }
        }
        // The live part of a task's page, for the script that moves the progress bar.
        get(group, "tasks/:id/status") { _, context, visit in
            let id = try context.parameters.require("id")
            let (status, progress, final): (String, Int, Bool)
            do {
                let task = try await console.task(visit.role, id: id)
                (status, progress, final) = (task.status.rawValue, task.progress, Self.isFinal(task.status))
            } catch let error as SeedgateError where error.kind == .notFound {
                let review = try await console.reviewTask(visit.role, id: id)
                (status, progress, final) = (review.status.rawValue, review.progress, review.status != .processing)
            }
            return WireJSON.response(.obj([
                "status": .string(status), "progress": .int(progress),
                "final": .bool(final), "label": .string(visit.strings[status] ?? status),
            ]))
        }
        post(group, "tasks/:id/cancel") { _, context, visit, _ in
            let id = try context.parameters.require("id")
            try await console.cancel(visit.role, taskID: id)
            return Self.redirect("/console/tasks/\(id)?done=task_cancelled")
        }
        post(group, "tasks/:id/redeliver") { _, context, visit, _ in
            let id = try context.parameters.require("id")
            try await console.redeliverWebhook(visit.role, taskID: id)
            return Self.redirect("/console/tasks/\(id)?done=webhook_queued")
        }
        get(group, "assets") { _, _, visit in
            let (assets, bound) = try await console.assets(visit.role)
            let reviews = try await console.reviewTasks(visit.role)
            return views.page("assets", [
                "reviews": reviews.map { Self.reviewRow($0, visit) },
                "assets": assets.map { asset in
                    [
                        "id": asset.id, "name": asset.name, "type": asset.type.rawValue, "status": asset.status.rawValue,
                        "tone": asset.status == .active ? "good" : asset.status == .failed ? "bad" : "busy",
                        "failure": asset.failure.map { "\($0.code): \($0.message)" } ?? "", "group": asset.groupID,
                        "channel": bound[asset.groupID] ?? "", "source": Self.host(asset.sourceURL), "key_id": asset.keyID,
                        "created": Self.date(asset.createdAt), "icon": asset.type == .image ? "▣" : asset.type == .video ? "▶" : "♪",
                        // Made by the local review when the asset went Active; the page shows the icon where there is none.
                        "thumbnail": asset.status == .active
                            ? relative(links.signer.url(for: asset.thumbnailKey, expires: links.signer.clock.now.addingTimeInterval(3600))) : "",
                    ] as [String: Any]
                },
            ], frame: frame(visit, title: visit.strings["assets"] ?? "", section: "assets"))
        }
    }

    static func reviewRow(_ task: AssetReviewTask, _ visit: Visit) -> [String: Any] {
        let failed = task.assets.filter { $0.status == .failed }.count
        return [
            "id": task.id, "status": task.status.rawValue, "status_label": visit.strings[task.status.rawValue] ?? task.status.rawValue,
            "tone": task.status == .completed ? "good" : task.status == .failed ? "bad" : "busy", "progress": task.progress,
            "count": task.assets.count, "failed": failed > 0 ? String(failed) : "", "key_id": task.keyID, "group": task.groupID,
            "dialect": task.dialect.rawValue, "created": Self.date(task.createdAt), "finished": task.completedAt.map(Self.date) ?? "",
        ]
    }

    /// An asset review's page: its assets one by one, each reason in full, and the task as the API shows it.
    private func reviewPage(_ visit: Visit, task: AssetReviewTask) -> Response {
        views.page("review", [
            "task": Self.reviewRow(task, visit), "live": task.status == .processing,
            "assets": task.assets.map { asset in
                [
                    "id": asset.id, "name": asset.name, "type": asset.type.rawValue, "status": asset.status.rawValue,
                    "tone": asset.status == .active ? "good" : asset.status == .failed ? "bad" : "busy",
                    "failure": asset.failure.map { "\($0.code): \($0.message)" } ?? "", "source": Self.host(asset.sourceURL),
                ] as [String: Any]
            },
            "raw": Self.pretty(Apimart.reviewTask(task)),
        ], frame: frame(visit, title: task.id, section: "assets"))
    }

    private func taskPage(_ visit: Visit, task: VideoTask, done: String?) async throws -> Response {
        let (events, webhook) = try await console.timeline(visit.role, task: task)
        let raw = Apimart.videoTask(task, links: links, webhook: webhook)
        var video: [String: Any]?
        if task.status == .completed, let result = task.result {
            video = [
                "src": relative(links.link(for: result.videoKey, completedAt: task.completedAt).url),
                "frame": result.lastFrameKey.map { relative(links.link(for: $0, completedAt: task.completedAt).url) } as Any,
                "width": result.width, "height": result.height, "seconds": String(format: "%.2f", result.seconds), "audio": result.hasAudio,
            ]
        }
        let request = task.request
        let inputs = request.inputs.map { ["type": $0.type.rawValue, "url": $0.input.url, "role": $0.input.role?.rawValue ?? ""] }
        var parameters: [[String: String]] = [
            ["name": "model", "value": request.model.rawValue], ["name": "duration", "value": "\(request.duration) s"],
            ["name": "size", "value": request.size], ["name": "resolution", "value": request.resolution],
            ["name": "generate_audio", "value": String(request.generateAudio)], ["name": "return_last_frame", "value": String(request.returnLastFrame)],
            ["name": "seed", "value": String(task.seed)], ["name": "watermark", "value": String(request.watermark)],
            ["name": "dialect", "value": task.dialect.rawValue], ["name": "hold", "value": Self.number(task.hold)],
        ]
        if !request.tools.isEmpty { parameters.append(["name": "tools", "value": request.tools.joined(separator: ", ")]) }
        if let cost = task.cost { parameters.append(["name": "cost", "value": Self.number(cost)]) }
        if let callback = request.callbackURL { parameters.append(["name": "callback_url", "value": callback]) }
        if let id = task.requestID { parameters.append(["name": "request_id", "value": id]) }
        return views.page("task", [
            "task": Self.taskRow(task, visit), "prompt": request.prompt ?? "", "parameters": parameters, "inputs": inputs,
            "events": events.map { ["at": Self.date($0.at), "kind": $0.kind, "detail": $0.detail] },
            "video": video as Any, "purged": task.status == .completed && task.result == nil,
            "failure": task.failure.map { ["code": $0.code, "message": $0.message] } as Any,
            "raw": Self.pretty(raw), "live": !Self.isFinal(task.status),
            "can_cancel": !Self.isFinal(task.status), "can_redeliver": visit.role.isOperator && webhook != nil,
            "done": done.flatMap(visit.doneMessage) as Any,
        ], frame: frame(visit, title: task.id, section: "tasks"))
    }

    // MARK: The key owner's pages

    func registerOwnerPages(_ group: RouterGroup<AppRequestContext>) {
        get(group, "home") { _, _, visit in
            guard let key = visit.key else { return Self.redirect("/console/overview") }
            let (_, account, ledger) = try await console.account(visit.role, keyID: key.id)
            let recent = try await console.tasks(visit.role, query: ConsoleTaskQuery(), page: 1, size: 10)
            return views.page("home", [
                "key": ["id": key.id, "name": key.name, "created": Self.date(key.createdAt)],
                "account": Self.account(account), "ledger": ledger.map(Self.ledgerRow), "tasks": recent.tasks.map { Self.taskRow($0, visit) },
            ], frame: frame(visit, title: visit.strings["home"] ?? "", section: "home"))
        }
        get(group, "playground") { _, _, visit in
            guard visit.key != nil else { return try playgroundForOwners(visit) }
            return playground(visit, form: FormFields("model=doubao-seedance-2.0&duration=5&size=16%3A9&resolution=720p&generate_audio=on&image_role=reference"), error: nil)
        }
        post(group, "playground") { request, _, visit, form in
            guard let key = visit.key else { return try playgroundForOwners(visit) }
            do {
                try AuthMiddleware.count(key, limits: console.limits, rateLimiter: rateLimiter)
                let body = Data(Self.generationBody(form).utf8())
                let generationRequest = try ApimartGenerationRequest.read(try JSONFields.parse(body), catalog: catalog, urlGuard: urlGuard)
                let (task, _) = try await generation.submit(key: key, request: generationRequest, body: body, idempotencyKey: nil, requestID: nil)
                return Self.redirect("/console/tasks/\(task.id)")
            } catch let error as SeedgateError where ![.internalError, .serviceUnavailable].contains(error.kind) {
                return playground(visit, form: form, error: error, status: error.status)
            }
        }
    }

    private func playgroundForOwners(_ visit: Visit) throws -> Response {
        throw SeedgateError(.forbidden, code: "owners_only", message: "the playground makes videos with a key; sign in with that key to use it")
    }

    private func playground(_ visit: Visit, form: FormFields, error: SeedgateError?, status: HTTPResponse.Status = .ok) -> Response {
        // A refusal names the apimart field; the form's fields carry the same names (images: image_urls / image_with_roles).
        let param = error?.param ?? ""
        let field = param.hasPrefix("image") ? "images" : String(param.prefix { $0 != "[" && $0 != "." })
        let model = form["model"] ?? "", size = form["size"] ?? "", resolution = form["resolution"] ?? ""
        let models = catalog.specs.map { ["value": $0.name, "selected": $0.name == model] as [String: Any] }
        return views.page("playground", [
            "models": models,
            "sizes": GenerationRules.sizes.map { ["value": $0, "selected": $0 == size] as [String: Any] },
            "resolutions": ["480p", "720p", "1080p"].map { ["value": $0, "selected": $0 == resolution] as [String: Any] },
            "prompt": form["prompt"] ?? "", "duration": form["duration"] ?? "", "seed": form["seed"] ?? "", "images": form["images"] ?? "",
            "generate_audio": form["generate_audio"] != nil, "return_last_frame": form["return_last_frame"] != nil,
            "role_frames": form["image_role"] == "frames",
            // Only the field that was refused has an entry (an empty string would still be a true section).
            "errors": error.map { [field: $0.message] } ?? [String: String](),
            "error": error.map { ["message": $0.message, "param": $0.param ?? "", "general": !["model", "prompt", "duration", "size", "resolution", "seed", "images", "generate_audio"].contains(field)] } as Any,
        ], frame: frame(visit, title: visit.strings["playground"] ?? "", section: "playground"), status: status)
    }

    /// The playground's form as the apimart body the API would take; numbers that are not numbers are
    /// passed on as text so the rule that refuses them names the field.
    static func generationBody(_ form: FormFields) -> JSONOut {
        func number(_ name: String) -> JSONOut? {
            guard let text = form.text(name) else { return nil }
            return Int64(text).map(JSONOut.int) ?? .string(text)
        }
        let images = (form["images"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var imageField: (String, JSONOut)?
        if !images.isEmpty {
            if form["image_role"] == "frames" {
                imageField = ("image_with_roles", .array(images.prefix(2).enumerated().map { index, url in
                    .obj(["url": .string(url), "role": .string(index == 0 ? "first_frame" : "last_frame")])
                } + images.dropFirst(2).map { .obj(["url": .string($0), "role": "reference_image"]) }))
            } else {
                imageField = ("image_urls", .array(images.map(JSONOut.string)))
            }
        }
        var fields: [(String, JSONOut)] = [
            ("model", .string(form.text("model") ?? "")),
            ("generate_audio", .bool(form["generate_audio"] != nil)),
            ("return_last_frame", .bool(form["return_last_frame"] != nil)),
        ]
        if let prompt = form["prompt"], !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { fields.append(("prompt", .string(prompt))) }
        if let duration = number("duration") { fields.append(("duration", duration)) }
        if let seed = number("seed") { fields.append(("seed", seed)) }
        if let size = form.text("size") { fields.append(("size", .string(size))) }
        if let resolution = form.text("resolution") { fields.append(("resolution", .string(resolution))) }
        if let imageField { fields.append(imageField) }
        return .object(fields)
    }

    // MARK: What the templates show

    static func taskRow(_ task: VideoTask, _ visit: Visit) -> [String: Any] {
        [
            "id": task.id, "status": task.status.rawValue, "status_label": visit.strings[task.status.rawValue] ?? task.status.rawValue,
            "tone": tone(task.status), "progress": task.progress, "model": task.request.model.rawValue, "dialect": task.dialect.rawValue,
            "key_id": task.keyID, "created": date(task.createdAt), "finished": task.completedAt.map(date) ?? "",
            "duration": task.request.duration, "resolution": task.request.resolution, "size": task.request.size,
            "cost": task.cost.map(number) ?? "", "channel": task.upstream?.channel ?? "", "final": isFinal(task.status),
            "prompt": String((task.request.prompt ?? "").prefix(80)),
        ]
    }

    static func account(_ account: Account) -> [String: Any] {
        [
            "balance": number(account.balance), "held": number(account.held), "spent": number(account.spent),
            "available": number(account.available), "rpm": account.rpm, "max_in_flight": account.maxInFlight,
            "tasks": account.tasksByStatus.values.reduce(0, +),
        ]
    }

    static func ledgerRow(_ entry: LedgerEntry) -> [String: Any] {
        [
            "when": date(entry.createdAt), "kind": entry.kind, "delta": signed(entry.balanceDelta), "held_delta": signed(entry.heldDelta),
            "ref": entry.ref ?? "", "task_ref": entry.ref?.hasPrefix("task_") == true, "note": entry.note ?? "",
            "tone": entry.balanceDelta > 0 ? "good" : entry.balanceDelta < 0 ? "bad" : "",
        ]
    }

    static func tone(_ status: VideoStatus) -> String {
        switch status {
        case .completed: "good"
        case .failed: "bad"
        case .cancelled: "quiet"
        case .pending, .processing: "busy"
        }
    }

    static func isFinal(_ status: VideoStatus) -> Bool { [.completed, .failed, .cancelled].contains(status) }

    static func date(_ date: Date) -> String {
        // 2026-12-02T13:07:04Z -> 2026-12-02 13:07:04 UTC
        date.formatted(.iso8601).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    static func day(_ text: String) -> Date? {
        guard text.count == 10 else { return nil }
        return try? Date(text + "T00:00:00Z", strategy: .iso8601)
    }

    static func number(_ value: Int64) -> String { value.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }
    static func signed(_ value: Int64) -> String { value > 0 ? "+" + number(value) : value == 0 ? "0" : "−" + number(-value) }

    static func host(_ url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return String(url.prefix(60)) }
        return host + (components.path.isEmpty ? "" : "/…" + String(components.path.split(separator: "/").last ?? ""))
    }

    static func pretty(_ value: JSONOut) -> String {
        let bytes = Data(value.utf8())
        guard let object = try? JSONSerialization.jsonObject(with: bytes),
              let text = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return value.serialized() }
        return String(decoding: text, as: UTF8.self)
    }

    /// A result link on this origin, so the console's policy (`media-src 'self'`) lets the player load it.
    func relative(_ url: String) -> String {
        url.hasPrefix(links.signer.baseURL) ? String(url.dropFirst(links.signer.baseURL.count)) : url
    }

    static func int(_ form: FormFields, _ name: String) throws(SeedgateError) -> Int? {
        guard let text = form.text(name) else { return nil }
        guard let value = Int(text) else { throw .invalid(name, "must be a whole number") }
        return value
    }

    static func integer(_ form: FormFields, _ name: String) throws(SeedgateError) -> Int64? {
        guard let text = form.text(name)?.replacingOccurrences(of: ",", with: "") else { return nil }
        guard let value = Int64(text) else { throw .invalid(name, "must be a whole number") }
        return value
    }
}
