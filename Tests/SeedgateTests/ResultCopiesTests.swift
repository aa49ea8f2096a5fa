import Foundation
import SeedgateDomain
import SeedgateEngines
import SeedgateStore
import SeedgateSupport
import Synchronization
import Testing

@Suite("result copies, queued apart from the status checks that found them")
struct ResultCopiesTests {
    /// What the copies did: how many ran at once at most, and which began and ended, in order.
    struct Seen {
        var running = 0, most = 0
        var started: [String] = [], finished: [String] = []
        var release = false
    }

    /// `Seen`, shared by the copies and the test.
    final class Shared: Sendable {
        private let state = Mutex(Seen())
        func withLock<R>(_ body: (inout Seen) -> R) -> R { state.withLock { body(&$0) } }
    }

    @Test("each task is queued once until its copy ends; at most `concurrency` run at once; finish lets the begun ones end, drops the rest and ends the run")
    func queue() async throws {
        let store = try await Backend.sqlite.openStore()
        let (key, _, _) = try await store.createKey(name: "k", credits: 1_000_000)
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        var tasks: [VideoTask] = []
        for n in 0..<5 { tasks.append(try await store.insertVideoTask(keyID: key.id, request: request, seed: Int64(n), idempotency: nil).task) }
        let ids = tasks.map(\.id)
        let info = try ArkTask(json: .object(["id": .string("cgt-1"), "status": .string("succeeded")]))

        let seen = Shared()
        let copies = ResultCopies(concurrency: 2)
        // Each copy holds until the test lets the copies go, so that those running can be counted.
        let run = Task {
            await copies.run { job in
                seen.withLock { $0.running += 1; $0.most = max($0.most, $0.running); $0.started.append(job.task.id) }
                while !seen.withLock({ $0.release }) { try? await Task.sleep(for: .milliseconds(5)) }
                seen.withLock { $0.running -= 1; $0.finished.append(job.task.id) }
            }
        }
        func until(_ what: String, _ condition: (Seen) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while !seen.withLock({ condition($0) }) {
                guard ContinuousClock.now < deadline else { throw FixtureError("waited 10 s for \(what): \(seen.withLock { $0 })") }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        for task in tasks.prefix(4) { #expect(copies.enqueue(info, of: task, owner: "p")) }
        #expect(!copies.enqueue(info, of: tasks[3], owner: "q"), "queued already: the second check leaves it to the first")
        try await until("two copies to begin") { $0.started.count == 2 }
        try await Task.sleep(for: .milliseconds(200))
        #expect(seen.withLock { $0.started.count == 2 && $0.most == 2 }, "two at a time, the others wait")
        #expect(!copies.enqueue(info, of: tasks[0], owner: "q"), "being copied: not queued again")

        seen.withLock { $0.release = true }
        try await until("the four copies to end") { $0.finished.count == 4 }
        #expect(seen.withLock { Set($0.finished) == Set(ids.prefix(4)) && $0.most == 2 })
        #expect(copies.enqueue(info, of: tasks[0], owner: "p"), "its copy ended: a later check may queue it again")
        try await until("the fifth copy") { $0.finished.count == 5 }

        // Shutdown with copies running and more queued: the running ones end, the last one queued is
        // never begun (its claim runs out and a later check copies it), and the run returns.
        seen.withLock { $0.release = false; $0.started = []; $0.finished = [] }
        for task in tasks.prefix(5) { #expect(copies.enqueue(info, of: task, owner: "p")) }
        try await until("two copies to begin again") { $0.started.count == 2 }
        copies.finish()
        seen.withLock { $0.release = true }
        await run.value
        let after = seen.withLock { $0 }
        #expect(after.running == 0 && after.finished.count == after.started.count, "every copy begun has ended")
        #expect(!after.started.contains(ids[4]), "the last one queued was dropped, not copied: \(after.started)")
        #expect(after.most == 2)
        #expect(!copies.enqueue(info, of: tasks[4], owner: "p"), "finished: nothing more is taken")
        await store.provider.close()
    }
}
