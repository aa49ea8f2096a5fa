import Hummingbird

/// `GET /v1/tasks/{id}`: one polling endpoint for every kind of task a key owns.
struct ApimartTaskRoutes {
    let assets: AssetService

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get("tasks/:id") { _, context in
            let id = try context.parameters.require("id")
            if let task = try await assets.reviewTask(key: context.key, id: id) {
                return WireJSON.response(Apimart.envelope(Apimart.reviewTask(task)))
            }
            throw SeedgateError.notFound("task", id)
        }
    }
}
