import ThawVocabulary

/// The autoscaler's base URL, `http://host:port[/prefix]`: where activators, sidecars and the
/// collector send what they measure.
public struct AutoscalerURL: Sendable, CustomStringConvertible {
    public var endpoint: EndpointAddress
    public var prefix: String

    public init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        guard let endpoint = EndpointAddress(String(authority)) else { return nil }
        self.endpoint = endpoint
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self.prefix = prefix
    }

    public func path(_ suffix: String) -> String { prefix + suffix }
    public var description: String { "http://\(endpoint)\(prefix)" }
}
