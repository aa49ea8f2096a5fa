import Foundation

/// Where JSON text stops being valid JSON.
public struct JSONSyntaxError: Error, Equatable {
    /// Byte offset into the text.
    public let offset: Int
    public let reason: String
}

extension JSONValue {
    /// Parses JSON text (RFC 8259): one value, with nothing but whitespace around it. Integers that fit
    /// in 64 bits are `.integer`, other numbers `.number`; of repeated object keys the last one counts,
    /// unless `uniqueKeys`, where a repeated key is an error.
    ///
    /// Written out rather than done with `JSONDecoder`, which has no way to ask a value's type and
    /// so finds it by trying each in turn, each miss an error thrown: on a generation request that was
    /// a fifth of the server's work.
    /// A UTF-8 byte order mark before the value is skipped (RFC 8259 section 8.1 lets a parser do so).
    public static func parse(_ data: Data, uniqueKeys: Bool = false) throws(JSONSyntaxError) -> JSONValue {
        let parsed = data.withUnsafeBytes { bytes in
            Result { () throws(JSONSyntaxError) -> JSONValue in
                var parser = JSONParser(bytes: bytes, uniqueKeys: uniqueKeys)
                return try parser.document()
            }
        }
        return try parsed.get()
    }
}

private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    var depth = 0
    /// Deeper nesting than any request needs is refused rather than followed down the stack.
    static let maxDepth = 128

    let uniqueKeys: Bool
    init(bytes: UnsafeRawBufferPointer, uniqueKeys: Bool) { self.bytes = bytes; self.uniqueKeys = uniqueKeys }

    mutating func document() throws(JSONSyntaxError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        skipWhitespace()
        let value = try value()
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected text after the value") }
        return value
    }

    private func fail(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: index, reason: reason) }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard let byte = current else { throw fail("unexpected end of text") }
        switch byte {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
              memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0
        else { throw fail("unexpected character") }
        index += count
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        try elements(closedBy: "}", in: "an object") { parser throws(JSONSyntaxError) in
            guard parser.current == UInt8(ascii: "\"") else { throw parser.fail("expected a field name in quotes") }
            let start = parser.index
            let key = try parser.string()
            if parser.uniqueKeys && fields[key] != nil {
                parser.index = start
                throw parser.fail("the field \"\(key.prefix(80))\" appears twice in one object")
            }
            parser.skipWhitespace()
            guard parser.current == UInt8(ascii: ":") else { throw parser.fail("expected ':' after a field name") }
            parser.index += 1
            parser.skipWhitespace()
            fields[key] = try parser.value()
        }
        return .object(fields)
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        var items: [JSONValue] = []
        try elements(closedBy: "]", in: "an array") { parser throws(JSONSyntaxError) in items.append(try parser.value()) }
        return .array(items)
    }

    /// The comma-separated elements of an object or array, from its opening bracket to `close`, one
    /// level deeper; `element` reads one.
    private mutating func elements(
        closedBy close: Unicode.Scalar, in container: String, _ element: (inout JSONParser) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: close) {
            index += 1
            return
        }
        while true {
            try element(&self)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1; skipWhitespace()
            case UInt8(ascii: close): index += 1; return
            default: throw fail("expected ',' or '\(close)' in \(container)")
            }
        }
    }

    /// A string starting at its opening quote. Text without escapes is taken in one piece.
    private mutating func string() throws(JSONSyntaxError) -> String {
        index += 1
        var decoded: [UInt8] = []
        var start = index
        while true {
            guard let byte = current else { throw fail("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                let text: String?
                if decoded.isEmpty {
                    text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                } else {
                    decoded.append(contentsOf: bytes[start..<index])
                    text = String(validating: decoded, as: UTF8.self)
                }
                guard let text else { throw fail("string is not valid UTF-8") }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                decoded.append(contentsOf: bytes[start..<index])
                index += 1
                try escape(into: &decoded)
                start = index
            case 0..<0x20:
                throw fail("control character in a string; escape it")
            default:
                index += 1
            }
        }
    }

    /// The escape after a backslash, appended as UTF-8.
    private mutating func escape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        guard let byte = current else { throw fail("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw fail("unpaired surrogate in a \\u escape")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in a \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw fail("unpaired surrogate in a \\u escape")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
            out.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw fail("invalid escape in a string")
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("unterminated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in a \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw fail("expected a digit") }
        if first == UInt8(ascii: "0") { index += 1 } else { skipDigits() }
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard try digitsFollow() else { throw fail("expected a digit after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard try digitsFollow() else { throw fail("expected a digit in the exponent") }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let integer = Int64(text) { return .integer(integer) }
        guard let number = Double(text), number.isFinite else { throw fail("number out of range") }
        return .number(number)
    }

    private mutating func skipDigits() {
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
    }

    private mutating func digitsFollow() throws(JSONSyntaxError) -> Bool {
        let start = index
        skipDigits()
        return index > start
    }
}

/// Reading parsed JSON: a field of an object, and the scalar kinds.
extension JSONValue {
    package subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }
    package var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    package var int64Value: Int64? {
        switch self {
        case .integer(let i): i
        case .number(let d): Int64(exactly: d.rounded())
        default: nil
        }
    }
    package var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
