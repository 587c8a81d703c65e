/// Splits a `STREAMED_XOR_CHUNKS` response body into its messages: each frame is a uvarint length,
/// a big-endian CRC32-Castagnoli of the message, then the message (a `ChunkedReadResponse`).
///
/// Bytes arrive in pieces from the network; `append` takes them as they come and `next` returns a
/// message once it is whole and its checksum matches. Bad input is an error value, never a crash.
public struct StreamFrames {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case checksumMismatch(expected: UInt32, actual: UInt32)
        case frameTooLarge(Int)
        case truncated(Int)
        case badLength

        public var description: String {
            switch self {
            case .checksumMismatch(let expected, let actual):
                "a frame's CRC32C does not match: the frame says \(String(expected, radix: 16)), its message has \(String(actual, radix: 16))"
            case .frameTooLarge(let size): "a frame announces \(size) bytes, over the limit"
            case .truncated(let left): "the stream ended inside a frame (\(left) bytes left over)"
            case .badLength: "a frame length is not a valid varint"
            }
        }
    }

    private var buffer: [UInt8] = []
    private var start = 0
    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = 64 * 1024 * 1024) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole message, or nil until more bytes arrive.
    public mutating func next() throws -> [UInt8]? {
        var position = start
        var length: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < buffer.count else { return nil }
            let byte = buffer[position]
            position += 1
            guard shift < 64 else { throw Failure.badLength }
            length |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        guard length <= UInt64(maxFrameBytes) else { throw Failure.frameTooLarge(Int(clamping: length)) }
        guard buffer.count - position >= 4 + Int(length) else { return nil }
        let expected = UInt32(buffer[position]) << 24 | UInt32(buffer[position + 1]) << 16 | UInt32(buffer[position + 2]) << 8 | UInt32(buffer[position + 3])
        position += 4
        let message = Array(buffer[position..<(position + Int(length))])
        let actual = CRC32C.checksum(message)
        guard actual == expected else { throw Failure.checksumMismatch(expected: expected, actual: actual) }
        start = position + Int(length)
        if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        return message
    }

    /// Call at the end of the body: leftover bytes mean the stream was cut inside a frame.
    public func finish() throws {
        if buffer.count > start { throw Failure.truncated(buffer.count - start) }
    }
}

/// CRC32-Castagnoli (reflected polynomial 0x82F63B78), the checksum of remote-read stream frames.
public enum CRC32C {
    /// Slicing-by-8 tables, one after another: entry `k * 256 + b` is the CRC of byte `b` followed
    /// by `k` zero bytes, so eight bytes are folded per step instead of one.
    private static let table: [UInt32] = {
        var table = (0..<256).map { index -> UInt32 in
            var crc = UInt32(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            return crc
        }
        for entry in 256..<(8 * 256) {
            let previous = table[entry - 256]
            table.append(table[Int(previous & 0xFF)] ^ (previous >> 8))
        }
        return table
    }()

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        if let crc = bytes.withContiguousStorageIfAvailable({ checksum(buffer: UnsafeRawBufferPointer($0)) }) { return crc }
        return Array(bytes).withUnsafeBytes { checksum(buffer: $0) }
    }

    private static func checksum(buffer: UnsafeRawBufferPointer) -> UInt32 {
        table.withUnsafeBufferPointer { t in
            var crc: UInt32 = 0xFFFF_FFFF
            var index = 0
            while index + 8 <= buffer.count {
                let low = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index, as: UInt32.self)) ^ crc
                let high = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self))
                crc = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int(low >> 8 & 0xFF)] ^ t[5 * 256 + Int(low >> 16 & 0xFF)]
                    ^ t[4 * 256 + Int(low >> 24)] ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int(high >> 8 & 0xFF)]
                    ^ t[256 + Int(high >> 16 & 0xFF)] ^ t[Int(high >> 24)]
                index += 8
            }
            while index < buffer.count {
                crc = t[Int((crc ^ UInt32(buffer[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
            return crc ^ 0xFFFF_FFFF
        }
    }
}
