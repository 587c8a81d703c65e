/// The header rules of a proxy hop (RFC 9110 §7.6.1), shared by requests and responses.
enum HopByHop {
    /// Headers that belong to one connection and never travel on.
    static let names: [StaticString] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                                        "proxy-authenticate", "proxy-authorization"]

    /// Names a `Connection` header may list that are dropped all the same: framing and `Host`.
    /// Dropping `Content-Length` on a client's say-so would let its body reach the replica as a
    /// second request.
    static let neverDropped: [StaticString] = ["content-length", "transfer-encoding", "host"]

    static let nameStrings: Set<String> = Set(names.map(\.description))
    static let neverDroppedStrings: Set<String> = Set(neverDropped.map(\.description))
}
