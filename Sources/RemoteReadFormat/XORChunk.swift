/// Prometheus' XOR chunk (Gorilla encoding), the float chunk a `STREAMED_XOR_CHUNKS` remote read
/// returns: a 2-byte big-endian sample count, then timestamps as delta-of-deltas and values XOR-ed
/// with the previous one, in one MSB-first bit stream.
public enum XORChunk {
    /// The chunk encoding number in `prometheus.Chunk.Encoding`.
    public static let encoding: Int32 = 1

    /// Decodes a whole chunk into (milliseconds, value) pairs.
    public static func decode(_ data: [UInt8]) throws -> [(timestamp: Int64, value: Double)] {
        guard data.count >= 2 else { throw ChunkFormatError.tooShort(data.count) }
        let count = Int(data[0]) << 8 | Int(data[1])
        var reader = BitReader(data, startingAt: 2)
        var samples: [(timestamp: Int64, value: Double)] = []
        samples.reserveCapacity(count)
        var timestamp: Int64 = 0
        var delta: Int64 = 0
        var valueBits: UInt64 = 0
        var leading: UInt64 = 0
        var trailing: UInt64 = 0
        for index in 0..<count {
            switch index {
            case 0:
                timestamp = try reader.varint()
                valueBits = try reader.bits(64)
            case 1:
                delta = Int64(bitPattern: try reader.uvarint())
                timestamp &+= delta
                try readValue(&reader, &valueBits, &leading, &trailing)
            default:
                delta &+= try deltaOfDelta(&reader)
                timestamp &+= delta
                try readValue(&reader, &valueBits, &leading, &trailing)
            }
            samples.append((timestamp, Double(bitPattern: valueBits)))
        }
        return samples
    }

    private static func deltaOfDelta(_ reader: inout BitReader) throws -> Int64 {
        var prefix = 0
        while prefix < 4, try reader.bit() { prefix += 1 }
        let size: Int
        switch prefix {
        case 0: return 0
        case 1: size = 14
        case 2: size = 17
        case 3: size = 20
        default: return Int64(bitPattern: try reader.bits(64))
        }
        var bits = Int64(try reader.bits(size))
        // Two's complement in `size` bits; +2^(size-1) itself stays positive, as Prometheus writes it.
        if bits > 1 << (size - 1) { bits -= 1 << size }
        return bits
    }

    private static func readValue(_ reader: inout BitReader, _ value: inout UInt64, _ leading: inout UInt64, _ trailing: inout UInt64) throws {
        guard try reader.bit() else { return }
        if try reader.bit() {
            leading = try reader.bits(5)
            var significant = try reader.bits(6)
            if significant == 0 { significant = 64 }
            trailing = 64 - leading - significant
        }
        let significant = 64 - leading - trailing
        let bits = try reader.bits(Int(significant))
        value ^= trailing >= 64 ? 0 : bits << trailing
    }
}
