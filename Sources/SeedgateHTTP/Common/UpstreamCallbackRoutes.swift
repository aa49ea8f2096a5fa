import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// `POST /upstream/ark/{task}/{token}`: Ark's status callbacks. The token in the path is the task's own
/// secret, so no one else can hurry a task along; the body is not trusted: the task is checked upstream
/// at once, and the check decides.
package struct UpstreamCallbackRoutes {
    package let store: any UpstreamStore
    package let signal: WorkSignal

    /// The callback's path; its token opens the task's check to whoever has it (`AccessLogPath`).
    package static let path = "upstream/ark/:task/:token"

    package func register(on router: Router<AppRequestContext>) {
        router.post(RouterPath(Self.path)) { _, context in
            let task = try context.parameters.require("task")
            let token = try context.parameters.require("token")
            guard try await store.wakeUpstreamTask(taskID: task, token: token) else {
                return WireJSON.response(.obj(["error": .obj(["code": "not_found", "message": "no such callback"])]), status: .notFound)
            }
            signal.notify()
            return WireJSON.response(.obj([:]))
        }
    }

    package init(store: any UpstreamStore, signal: WorkSignal) {
        self.store = store
        self.signal = signal
    }
}
