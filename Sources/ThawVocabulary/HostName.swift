/// How Thaw compares request hosts, in routing and in checks of a routing table alike.
public enum HostName {
    /// Hosts compare case-insensitively and without the port (`Mnist.local:8080` is `mnist.local`).
    // Inlinable: the activator normalises the Host header of every request with it.
    @inlinable
    public static func normalized(_ host: String) -> String {
        // The usual Host header is already normal: answer it without building a new string.
        if !host.utf8.contains(where: { (65...90).contains($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "[") }),
           host.utf8.last != UInt8(ascii: ".") {
            return host
        }
        var text = Substring(host)
        if text.hasPrefix("[") {
            if let end = text.firstIndex(of: "]") { text = text[...end] }
        } else if let colon = text.lastIndex(of: ":") {
            text = text[..<colon]
        }
        if text.hasSuffix(".") { text = text.dropLast() }
        return text.lowercased()
    }
}
