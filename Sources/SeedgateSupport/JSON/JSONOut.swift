import Foundation

/// A JSON value for responses, with object fields in the order written. The seeds show exact
/// bytes (`{"code":200,"data":{"id":...,"object":...}}`), and `JSONEncoder` does not promise an order.
public indirect enum JSONOut: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONOut])
    case object([(String, JSONOut)])

    /// An object from fields in order; a nil value leaves its field out.
    public static func obj(_ fields: KeyValuePairs<String, JSONOut?>) -> JSONOut {
        .object(fields.compactMap { key, value in value.map { (key, $0) } })
    }

    public static func int(_ value: Int) -> JSONOut { .int(Int64(value)) }

    public static func == (lhs: JSONOut, rhs: JSONOut) -> Bool { lhs.serialized() == rhs.serialized() }

    /// Compact JSON, slashes unescaped, non-ASCII written as UTF-8.
    public func serialized() -> String { String(decoding: utf8(), as: UTF8.self) }

    /// The same, as bytes.
    public func utf8() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(to: &out)
        return out
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            let text = d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)) : "null"
            out.append(contentsOf: text.utf8)
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Escapes quotes, backslashes, control characters and U+2028/U+2029 (which JavaScript reads as line
    /// ends); runs of anything else are copied as they are.
    private static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var copied = 0
            var index = 0
            func escape(_ replacement: some Sequence<UInt8>, length: Int) {
                out.append(contentsOf: utf8[copied..<index])
                out.append(contentsOf: replacement)
                index += length
                copied = index
            }
            while index < utf8.count {
                let byte = utf8[index]
                switch byte {
                case UInt8(ascii: "\""): escape(#"\""#.utf8, length: 1)
                case UInt8(ascii: "\\"): escape(#"\\"#.utf8, length: 1)
                case 0x0A: escape(#"\n"#.utf8, length: 1)
                case 0x0D: escape(#"\r"#.utf8, length: 1)
                case 0x09: escape(#"\t"#.utf8, length: 1)
                case 0..<0x20: escape(#"\u00"#.utf8 + [lowercaseHexDigits[Int(byte >> 4)], lowercaseHexDigits[Int(byte & 0xf)]], length: 1)
                case 0xE2 where index + 2 < utf8.count && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9):
                    escape((utf8[index + 2] == 0xA8 ? #"\u2028"# : #"\u2029"#).utf8, length: 3)
                default: index += 1
                }
            }
            out.append(contentsOf: utf8[copied..<utf8.count])
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONOut: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(Int64(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

