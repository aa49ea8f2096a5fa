import Foundation
import SeedgateDomain
import SeedgateStore
import SeedgateSupport
import SQLKit
import Synchronization
import Testing

@Suite("batches: calls arriving together run together")
struct BatchesTests {
    /// What a body saw: its batches, and the most that ran at once.
    private final class Record: Sendable {
        let batches = Mutex<[(items: [Int], started: ContinuousClock.Instant)]>([])
        let running = Mutex<(now: Int, most: Int)>((0, 0))

        func begin(_ items: [Int]) {
            batches.withLock { $0.append((items, .now)) }
            running.withLock { $0 = ($0.now + 1, max($0.most, $0.now + 1)) }
        }

        func end() { running.withLock { $0.now -= 1 } }
    }

    @Test("under load each call gets its own answer, at most the lane's number of batches run at once, and a call joins only a batch begun after it arrived")
    func answersAndBounds() async throws {
        let batches = Batches<String, Int, Int>(concurrent: 2)
        let record = Record()
        let answers = try await withThrowingTaskGroup(of: (Int, Int, ContinuousClock.Instant).self) { group in
            for item in 0..<60 {
                group.addTask {
                    let called = ContinuousClock.now
                    let answer = try await batches.run(item, lane: "a") { items in
                        record.begin(items)
                        try await Task.sleep(for: .milliseconds(20))
                        record.end()
                        return items.map { $0 * 10 }
                    }
                    return (item, answer, called)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.1 == $0.0 * 10 }, "each its own answer")
        let seen = record.batches.withLock { $0 }
        #expect(seen.flatMap(\.items).sorted() == Array(0..<60), "each item in exactly one batch")
        #expect(seen.count < 60 && batches.batches.value > 0, "calls that waited ran together: \(seen.map(\.items.count))")
        #expect(record.running.withLock { $0.most } == 2)
        for (item, _, called) in answers {
            let started = try #require(seen.first { $0.items.contains(item) }?.started)
            #expect(started >= called, "item \(item) was answered by a batch begun before it was asked")
        }
    }

    @Test("a batch's error is each of its members' error; the next batch runs")
    func errorsStayInTheirBatch() async throws {
        struct Refused: Error {}
        let batches = Batches<String, Int, Int>(concurrent: 1)
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        // The first call holds the lane until the others are queued behind it.
        async let first = batches.run(0, lane: "a") { items in
            for await _ in gate { break }
            return items
        }
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for item in 1...8 {
                group.addTask {
                    do {
                        _ = try await batches.run(item, lane: "a") { items in
                            if items.contains(1) { throw Refused() }
                            return items
                        }
                        return (item, true)
                    } catch { return (item, false) }
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
            open.yield()
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(try await first == 0)
        #expect(results.values.allSatisfy { !$0 }, "the eight waited together, in the batch that failed: \(results)")
        #expect(try await batches.run(9, lane: "a") { $0 } == 9, "the lane is free again")
    }

    @Test("lanes do not wait on each other")
    func lanesApart() async throws {
        let batches = Batches<String, Int, Bool>(concurrent: 1)
        let otherDone = Mutex(false)
        async let a = batches.run(1, lane: "a") { items in
            // Up to 5 s for lane b's call to end; it could not, were the lanes one.
            for _ in 0..<500 where !otherDone.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            return items.map { _ in otherDone.withLock { $0 } }
        }
        try await Task.sleep(for: .milliseconds(50))
        _ = try await batches.run(2, lane: "b") { items in items.map { _ in true } }
        otherDone.withLock { $0 = true }
        #expect(try await a, "lane b ran while lane a's batch was running")
    }

    @Test("PostgreSQL: task reads sent at once are read together, each key sees only its own tasks, webhooks included, also when the statement goes stale or one read's id holds NUL",
          .enabled(if: Backend.postgresURL != nil))
    func batchedTaskReads() async throws {
        let store = try await Backend.postgres.openStore()
        let postgres = try #require(store.provider as? PostgresProvider)
        let reads = try #require(store.taskReads)
        let plain = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        let hooked = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4, "callback_url": "https://example.com/hook"}"#)
        let (a, _, _) = try await store.createKey(name: "a", credits: 1_000_000)
        let (b, _, _) = try await store.createKey(name: "b", credits: 1_000_000)
        var owners: [String: String] = [:]
        for index in 0..<40 {
            let key = index % 2 == 0 ? a.id : b.id
            let (task, _) = try await store.insertVideoTask(keyID: key, request: index % 4 < 2 ? plain : hooked, seed: 1, idempotency: nil)
            if index % 4 >= 2 { try await store.provider.write { db in try await store.enqueueWebhook(db, taskID: task.id) } }
            owners[task.id] = key
        }
        // Each read alone, as a batch of one: what every batched read must answer the same.
        var readAlone: [String: SQLStore.TaskWithWebhook] = [:]
        for (id, key) in owners {
            guard let read = try await store.videoTaskWithWebhook(id: id, keyID: key) else { throw FixtureError("task \(id) not read") }
            readAlone[id] = read
        }
        let alone = readAlone, owned = owners
        #expect(alone.values.filter { $0.webhook != nil }.count == 20)

        /// 505 asks at once, two reads each: each task by its own key and by the other, ids of no task, and
        /// one holding NUL (which PostgreSQL refuses in a whole statement); any wrong answer named.
        func burst() async throws -> [String] {
            let asks = owned.keys.flatMap { id in [a.id, b.id].map { (id, $0) } } + (0..<20).map { ("vt_none\($0)", a.id) } + [("vt_\u{0}nul", b.id)]
            return try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<5 {
                    for (id, key) in asks {
                        group.addTask {
                            let answer = try await store.videoTaskWithWebhook(id: id, keyID: key)
                            let expected = owned[id] == key ? alone[id] : nil
                            let same = answer?.task == expected?.task && answer?.webhook == expected?.webhook
                            let plainRead = try await store.videoTask(id: id, keyID: key)
                            return same && plainRead == expected?.task ? nil : "\(id) by \(key)"
                        }
                    }
                }
                return try await group.reduce(into: []) { if let wrong = $1 { $0.append(wrong) } }
            }
        }
        let statements = postgres.statements.value
        #expect(try await burst().isEmpty)
        #expect(reads.batches.value > 0, "some were read together")
        #expect(postgres.statements.value - statements < 1_010, "fewer statements than the 1,010 reads: \(postgres.statements.value - statements)")

        // Another replica's migration changes a returned column's type: the batch's statement, prepared
        // on these connections, is stale; its connections are closed and the reads answered unprepared.
        let stale = postgres.staleStatements.value
        try await store.provider.read { db in try await db.raw("ALTER TABLE tasks ALTER COLUMN request_id TYPE VARCHAR(300)").run() }
        #expect(try await burst().isEmpty)
        #expect(postgres.staleStatements.value > stale)
        #expect(try await burst().isEmpty, "and after it, prepared again")
        await store.provider.close()
    }
}
