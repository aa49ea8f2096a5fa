import Foundation
import SeedgateSupport

/// `--config FILE`: a JSON object of settings. A key is a setting's name as its environment variable
/// gives it, without `SEEDGATE_`, in any of the ways a person writes it: `"default_rpm"`,
/// `"default.rpm"`, `"DEFAULT_RPM"`, `"SEEDGATE_DEFAULT_RPM"`, or nested, `{"default": {"rpm": 600}}`.
/// `liveness` is both a setting (the mode) and the start of others (`liveness.ttl`), so the file may also
/// say `{"liveness": {"mode": "auto", "ttl": 120}}`. A key that names no setting, or one setting twice,
/// stops the start: a typo must not leave a setting quietly at its default.
enum ConfigFile {
    /// The file's settings, as text (numbers and booleans as JSON writes them).
    static func read(_ path: String) throws(ConfigurationError) -> [Setting: String] {
        let named = "config file (--config / SEEDGATE_CONFIG) \(path)"
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigurationError("\(named) cannot be read: \(error.localizedDescription)")
        }
        let document: JSONValue
        do { document = try JSONValue.parse(data, uniqueKeys: true) } catch {
            throw ConfigurationError("\(named) is not a JSON object of settings: \(error.reason) (at byte \(error.offset))")
        }
        guard case .object(let top) = document else { throw ConfigurationError("\(named) must hold a JSON object of settings, not \(document.typeName)") }
        var settings: [Setting: String] = [:]
        var written: [Setting: String] = [:]
        func take(_ object: [String: JSONValue], under path: [String]) throws(ConfigurationError) {
            for (key, value) in object.sorted(by: { $0.key < $1.key }) {
                let spelled = (path + [key]).joined(separator: ".")
                let words = path + Self.words(key)
                if case .object(let inner) = value {
                    try take(inner, under: words)
                    continue
                }
                guard let setting = Self.setting(words) else {
                    throw ConfigurationError("\(named): '\(spelled.prefix(80))' is not a setting (a key is an environment variable's name without SEEDGATE_, as \"upstream_deadline\" or {\"upstream\": {\"deadline\": 600}})")
                }
                if let first = written[setting] {
                    throw ConfigurationError("\(named) sets \(setting.variable) twice: as '\(first.prefix(80))' and as '\(spelled.prefix(80))'")
                }
                written[setting] = spelled
                switch value {
                case .string(let text): settings[setting] = text
                case .integer(let number): settings[setting] = String(number)
                // A whole number written with a fraction or an exponent (86400.0, 1e9) is still whole.
                case .number(let number): settings[setting] = Int64(exactly: number).map(String.init) ?? String(number)
                case .bool(let flag): settings[setting] = String(flag)
                case .null: break
                case .array, .object:
                    throw ConfigurationError("\(named): \(setting.label) must be a string, a number or a boolean, not \(value.typeName)")
                }
            }
        }
        try take(top, under: [])
        return settings
    }

    /// A key's words: lower case, split at `_`, `-` and `.`.
    private static func words(_ key: String) -> [String] {
        key.lowercased().split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." }).map(String.init)
    }

    /// The setting `words` name, with or without `seedgate` in front.
    private static func setting(_ words: [String]) -> Setting? {
        let words = words.first == "seedgate" ? Array(words.dropFirst()) : words
        let name = words.joined(separator: ".")
        if name == "liveness.mode" { return .liveness }
        return Setting(rawValue: name)
    }
}
