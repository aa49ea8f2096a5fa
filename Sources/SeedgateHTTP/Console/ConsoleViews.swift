import Foundation
import Hummingbird
import Mustache
import NIOCore

/// The console's templates, stylesheet and script, read once from the target's resources. A page is
/// its own template rendered first, then placed in `layout` (HTML-escaped everywhere but that slot).
package struct ConsoleViews: Sendable {
    private let library: MustacheLibrary
    package let stylesheet: String
    package let script: String

    package static func load() async throws -> ConsoleViews {
        guard let directory = Bundle.module.url(forResource: "console", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the console's resources are missing from the bundle"])
        }
        let library = try await MustacheLibrary(directory: directory.path)
        let css = try String(contentsOf: directory.appendingPathComponent("console.css"), encoding: .utf8)
        let js = try String(contentsOf: directory.appendingPathComponent("console.js"), encoding: .utf8)
        return ConsoleViews(library: library, stylesheet: css, script: js)
    }

    /// The whole page: `template` with `data`, inside the layout with `frame` (title, navigation, strings).
    package func page(_ template: String, _ data: [String: Any], frame: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        var frame = frame, data = data
        // Every list gets a `has_<name>` flag, so a template can leave out an empty table.
        for (name, value) in data { if let list = value as? [Any] { data["has_\(name)"] = !list.isEmpty } }
        frame["body"] = library.render(Self.clean(data.merging(frame) { own, _ in own }) as Any, withTemplate: template) ?? ""
        let html = library.render(Self.clean(frame) as Any, withTemplate: "layout") ?? ""
        return Self.html(html, status: status)
    }

    /// Mustache counts every string, even an empty one, and every boxed nil as true in a section;
    /// the console's data drops both, so `{{#name}}` means "has a value".
    static func clean(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return clean(wrapped)
        }
        switch value {
        case let text as String: return text.isEmpty ? nil : text
        case let object as [String: Any]: return object.compactMapValues(clean)
        case let list as [Any]: return list.compactMap(clean)
        default: return value
        }
    }

    package static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Charts drawn on the server as SVG, so the overview reads without JavaScript. Every number in them
/// is ours; every label is escaped.
package enum ConsoleCharts {
    /// Horizontal bars, one per row, scaled to the largest value.
    package static func bars(_ rows: [(label: String, value: Int, tone: String)], width: Int = 520) -> String {
        let rowHeight = 28, labelWidth = 150, valueWidth = 60
        let height = max(1, rows.count) * rowHeight
        let largest = max(1, rows.map(\.value).max() ?? 1)
        var svg = #"<svg class="chart" viewBox="0 0 \#(width) \#(height)" role="img" xmlns="http://www.w3.org/2000/svg">"#
        for (index, row) in rows.enumerated() {
            let y = index * rowHeight
            let span = width - labelWidth - valueWidth
            let length = row.value == 0 ? 0 : max(2, span * row.value / largest)
            svg += #"<text class="label" x="0" y="\#(y + 18)">\#(escape(row.label))</text>"#
            svg += #"<rect class="track" x="\#(labelWidth)" y="\#(y + 6)" width="\#(span)" height="16" rx="3"/>"#
            svg += #"<rect class="bar \#(escape(row.tone))" x="\#(labelWidth)" y="\#(y + 6)" width="\#(length)" height="16" rx="3"/>"#
            svg += #"<text class="value" x="\#(width - valueWidth + 8)" y="\#(y + 18)">\#(row.value)</text>"#
        }
        return svg + "</svg>"
    }

    /// Stacked columns per hour (completed below, failed above), oldest on the left.
    package static func hourly(_ hours: [(completed: Int, failed: Int)], now: Date, width: Int = 720, height: Int = 180) -> String {
        let plotHeight = height - 24, count = max(1, hours.count)
        let largest = max(1, hours.map { $0.completed + $0.failed }.max() ?? 1)
        let step = Double(width - 40) / Double(count), barWidth = max(2, step * 0.7)
        var svg = #"<svg class="chart" viewBox="0 0 \#(width) \#(height)" role="img" xmlns="http://www.w3.org/2000/svg">"#
        svg += #"<line class="axis" x1="36" y1="\#(plotHeight)" x2="\#(width)" y2="\#(plotHeight)"/>"#
        svg += #"<text class="tick" x="0" y="12">\#(largest)</text><text class="tick" x="0" y="\#(plotHeight)">0</text>"#
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for (index, hour) in hours.enumerated() {
            let x = 40 + Double(index) * step
            let done = Double(plotHeight - 4) * Double(hour.completed) / Double(largest)
            let failed = Double(plotHeight - 4) * Double(hour.failed) / Double(largest)
            let at = now.addingTimeInterval(Double(index - count + 1) * 3600)
            svg += #"<g><title>\#(calendar.component(.hour, from: at)):00 UTC: \#(hour.completed) completed, \#(hour.failed) failed</title>"#
            svg += #"<rect class="bar good" x="\#(format(x))" y="\#(format(Double(plotHeight) - done))" width="\#(format(barWidth))" height="\#(format(done))"/>"#
            svg += #"<rect class="bar bad" x="\#(format(x))" y="\#(format(Double(plotHeight) - done - failed))" width="\#(format(barWidth))" height="\#(format(failed))"/></g>"#
            if index % 6 == 0 || index == count - 1 {
                svg += #"<text class="tick" x="\#(format(x))" y="\#(height - 6)">\#(String(format: "%02d", calendar.component(.hour, from: at))):00</text>"#
            }
        }
        return svg + "</svg>"
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    package static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}

/// An `application/x-www-form-urlencoded` body, as the console's forms send it.
package struct FormFields: Sendable {
    package var values: [String: String] = [:]

    package init(_ body: String) {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true).prefix(200) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0]), value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if values[name] == nil { values[name] = value }
        }
    }

    package subscript(_ name: String) -> String? { values[name] }

    /// The field, trimmed; nil when absent or blank.
    package func text(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    private static func decode(_ part: Substring) -> String {
        String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
    }
}
