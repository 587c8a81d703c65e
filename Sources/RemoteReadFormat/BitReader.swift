/// Reads a byte buffer as an MSB-first bit stream, as Prometheus' chunk encoders write it.
struct BitReader {
    private let bytes: [UInt8]
    private var bitPosition: Int

    /// Reads `bytes` from byte `start` on.
    init(_ bytes: [UInt8], startingAt start: Int = 0) {
        self.bytes = bytes
        bitPosition = start * 8
    }

    var bitsLeft: Int { bytes.count * 8 - bitPosition }

    mutating func bit() throws -> Bool {
        try bits(1) == 1
    }

    /// Up to 64 bits as an unsigned number, first bit most significant.
    mutating func bits(_ count: Int) throws -> UInt64 {
        guard count <= bitsLeft else { throw ChunkFormatError.truncated(needed: count, left: bitsLeft) }
        guard count > 0 else { return 0 }
        let byteIndex = bitPosition >> 3
        let offset = bitPosition & 7
        if offset + count <= 64, byteIndex + 8 <= bytes.count {
            // The common case: all the bits lie in the 8 bytes from here, read as one big-endian word.
            let word = bytes.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: byteIndex, as: UInt64.self)) }
            bitPosition += count
            return (word << UInt64(offset)) >> UInt64(64 - count)
        }
        var value: UInt64 = 0
        var remaining = count
        while remaining > 0 {
            let byte = bytes[bitPosition >> 3]
            let offset = bitPosition & 7
            let available = 8 - offset
            let take = min(available, remaining)
            let chunk = (UInt64(byte) >> UInt64(available - take)) & ((1 << UInt64(take)) - 1)
            value = (take == 64 ? 0 : value << UInt64(take)) | chunk
            remaining -= take
            bitPosition += take
        }
        return value
    }

    /// A Go-style unsigned varint starting at a byte boundary's worth of bits (read bit by bit, as Go's
    /// bstreamReader does).
    mutating func uvarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<10 {
            let byte = try bits(8)
            if byte < 0x80 {
                if index == 9 && byte > 1 { throw ChunkFormatError.varintOverflow }
                return result | byte << shift
            }
            result |= (byte & 0x7f) << shift
            shift += 7
        }
        throw ChunkFormatError.varintOverflow
    }

    /// A Go-style signed (zigzag) varint.
    mutating func varint() throws -> Int64 {
        let raw = try uvarint()
        let value = Int64(bitPattern: raw >> 1)
        return raw & 1 == 0 ? value : ~value
    }
}

/// Why a chunk could not be decoded; chunks come from another process, so this is a value, never a crash.
public enum ChunkFormatError: Error, Equatable, CustomStringConvertible {
    case truncated(needed: Int, left: Int)
    case varintOverflow
    case tooShort(Int)
    case unknownEncoding(Int32)

    public var description: String {
        switch self {
        case .truncated(let needed, let left): "the chunk ends early: \(needed) more bits needed, \(left) left"
        case .varintOverflow: "a varint in the chunk is longer than 64 bits"
        case .tooShort(let count): "a chunk needs at least a 2-byte sample count, got \(count) bytes"
        case .unknownEncoding(let encoding): "chunk encoding \(encoding) is not supported (only XOR, 1)"
        }
    }
}
