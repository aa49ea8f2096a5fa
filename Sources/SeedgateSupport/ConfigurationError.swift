/// A setting that cannot work, said in a sentence that names the setting (its flag or variable).
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
