import Foundation
import SeedgateSupport

/// Reads the fields of one JSON object, naming each field by its full path in errors
/// (`assets[1].url`). Absent and `null` fields read as nil.
public struct JSONFields: Sendable {
    public let values: [String: JSONValue]
    public let path: String

    public init(_ values: [String: JSONValue], path: String = "") {
        self.values = values
        self.path = path
    }

    /// Parses a request body that must be one JSON object.
    public static func parse(_ data: Data) throws(SeedgateError) -> JSONFields {
        guard !data.isEmpty else {
            throw SeedgateError(.invalidRequest, code: "invalid_json", message: "request body is empty; send a JSON object")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(data)
        } catch {
            throw SeedgateError(.invalidRequest, code: "invalid_json", message: "request body is not valid JSON (at byte \(error.offset): \(error.reason))")
        }
        guard case .object(let object) = value else {
            throw SeedgateError(.invalidRequest, code: "invalid_json", message: "request body must be a JSON object, not \(value.typeName)")
        }
        return JSONFields(object)
    }

    /// Text that holds the NUL character (`\u0000` in JSON, `%00` in a URL): valid JSON, but no id,
    /// name or prompt has it, and PostgreSQL cannot store it in text at all, so it is refused where it
    /// comes in, by the field's name, on either database alike.
    public static func holdsNUL(_ text: String) -> Bool { text.utf8.contains(0) }
    public static let nulRule = "must not contain the NUL character (\\u0000, %00)"

    public func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func has(_ key: String) -> Bool {
        if case .some(.null) = values[key] { return false }
        return values[key] != nil
    }

    /// Refuses fields this request does not know, so a typo never silently changes what is done.
    public func rejectUnknown(_ known: Set<String>) throws(SeedgateError) {
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalid(name(unknown), "unknown field; known fields are \(known.sorted().joined(separator: ", "))", code: "unknown_field")
        }
    }

    public func string(_ key: String) throws(SeedgateError) -> String? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.string(let s)):
            guard !Self.holdsNUL(s) else { throw .invalid(name(key), Self.nulRule) }
            return s
        case .some(let other): throw .invalid(name(key), "must be a string, not \(other.typeName)")
        }
    }

    public func requiredString(_ key: String) throws(SeedgateError) -> String {
        guard let value = try string(key) else { throw .missing(name(key)) }
        return value
    }

    public func integer(_ key: String) throws(SeedgateError) -> Int64? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.integer(let i)): return i
        case .some(.number(let d)) where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        case .some(let other): throw .invalid(name(key), "must be an integer, not \(other.typeName)")
        }
    }

    public func bool(_ key: String) throws(SeedgateError) -> Bool? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.bool(let b)): return b
        case .some(let other): throw .invalid(name(key), "must be true or false, not \(other.typeName)")
        }
    }

    public func object(_ key: String) throws(SeedgateError) -> JSONFields? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)): return JSONFields(o, path: name(key))
        case .some(let other): throw .invalid(name(key), "must be an object, not \(other.typeName)")
        }
    }

    public func array(_ key: String) throws(SeedgateError) -> [JSONValue]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.array(let a)): return a
        case .some(let other): throw .invalid(name(key), "must be an array, not \(other.typeName)")
        }
    }

    /// The items of an array field that must all be objects.
    public func objects(_ key: String) throws(SeedgateError) -> [JSONFields]? {
        guard let items = try array(key) else { return nil }
        var result: [JSONFields] = []
        for (index, item) in items.enumerated() {
            guard case .object(let o) = item else {
                throw .invalid("\(name(key))[\(index)]", "must be an object, not \(item.typeName)")
            }
            result.append(JSONFields(o, path: "\(name(key))[\(index)]"))
        }
        return result
    }

    /// The items of an array field that must all be strings.
    public func strings(_ key: String) throws(SeedgateError) -> [String]? {
        guard let items = try array(key) else { return nil }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let s) = item else {
                throw .invalid("\(name(key))[\(index)]", "must be a string, not \(item.typeName)")
            }
            guard !Self.holdsNUL(s) else { throw .invalid("\(name(key))[\(index)]", Self.nulRule) }
            result.append(s)
        }
        return result
    }
}
