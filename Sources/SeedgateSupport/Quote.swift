/// A client's value quoted back in an error message: at most `limit` characters (a 900 KB field is not
/// echoed whole), control characters shown as `?`, and `…` where it was cut.
public enum Quote {
    public static func short(_ text: some StringProtocol, limit: Int = 64) -> String {
        var out = ""
        for (count, character) in text.enumerated() {
            guard count < limit else {
                out.append("…")
                break
            }
            out.append(character.unicodeScalars.contains { $0.properties.generalCategory == .control } ? "?" : character)
        }
        return out
    }
}
