import SeedgateDomain
import SeedgateSupport

/// What every dialect's generation reader shares: the model by the dialect's name for it, and tools.
extension GenerationDraft {
    /// The catalog's model for a name in `dialect`'s spelling, or an error listing that dialect's names.
    package static func model(_ name: String?, field: String, dialect: Dialect, catalog: ModelCatalog, suffix: String = "") throws(SeedgateError) -> ModelSpec {
        guard let name else { throw .missing(field) }
        guard let spec = catalog.spec(named: name, in: dialect) else {
            let names = catalog.names(in: dialect).map { $0 + suffix }
            throw .invalid(field, "'\(Quote.short(name))' is not a model; use one of \(names.joined(separator: ", "))")
        }
        return spec
    }

    /// `tools: [{"type": "web_search"}]`, each tool once.
    package static func tools(_ body: JSONFields) throws(SeedgateError) -> [String] {
        let toolTypes = GenerationRules.toolTypes
        guard let items = try body.array("tools") else { return [] }
        guard items.count <= toolTypes.count else {
            throw .invalid(body.name("tools"), "holds \(items.count) tools; at most \(toolTypes.count) (\(toolTypes.joined(separator: ", "))) can be given")
        }
        guard let tools = try body.objects("tools") else { return [] }
        var types: [String] = []
        for tool in tools {
            try tool.rejectUnknown(["type"])
            let type = try tool.requiredString("type")
            guard toolTypes.contains(type) else { throw .invalid(tool.name("type"), "'\(Quote.short(type))' is not a tool; only web_search is supported") }
            guard !types.contains(type) else { throw .invalid(tool.name("type"), "\(type) is given twice") }
            types.append(type)
        }
        return types
    }

    /// `[{url, role}]` items (toapis's `*_with_roles`, apimart's `image_with_roles`), roles from `allowed`.
    package static func withRoles(_ items: [JSONFields], allowed: [String]) throws(SeedgateError) -> [(url: String, role: String, field: String)] {
        var result: [(url: String, role: String, field: String)] = []
        for item in items {
            try item.rejectUnknown(["url", "role"])
            guard let role = try item.string("role") ?? (allowed.count == 1 ? allowed[0] : nil) else { throw .missing(item.name("role")) }
            guard allowed.contains(role) else {
                throw .invalid(item.name("role"), "'\(Quote.short(role))' is not a role; use \(allowed.count == 1 ? allowed[0] : allowed.dropLast().joined(separator: ", ") + " or " + allowed.last!)")
            }
            result.append((try item.requiredString("url"), role, item.name("url")))
        }
        return result
    }
}

/// A task's `error` in the dialects that have no cancelled status (toapis, crun): a cancelled task is a
/// failure with the code `task_cancelled`.
enum WireFailure {
    static func of(_ task: VideoTask) -> JSONOut? {
        if task.status == .cancelled {
            return .obj(["code": "task_cancelled", "message": .string(task.failure?.message ?? "the task was cancelled")])
        }
        return task.failure.map { .obj(["code": .string($0.code), "message": .string($0.message)]) }
    }
}
