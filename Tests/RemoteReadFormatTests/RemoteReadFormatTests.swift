import Testing
@testable import RemoteReadFormat

struct CRC32CTests {
    @Test func theStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// The table-driven, eight-bytes-a-step checksum against the definition, one bit at a time, for
    /// every length around the 8-byte steps and from a non-contiguous sequence.
    @Test func eightBytesAStepEqualsTheBitwiseDefinition() {
        func bitwise(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            return crc ^ 0xFFFF_FFFF
        }
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(CRC32C.checksum(bytes) == bitwise(bytes), "bytes \(bytes)")
            #expect(CRC32C.checksum(bytes.lazy.map { $0 }) == bitwise(bytes), "bytes \(bytes), not contiguous")
        }
    }
}

/// The bit reader's word-at-a-time path against reading one bit at a time, for every start and
/// width near the buffer's end, where it must fall back to bytes.
struct BitReaderTests {
    @Test func wordReadsEqualBitByBitReadsEverywhere() throws {
        let bytes: [UInt8] = (0..<12).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 41) }
        func bitByBit(from start: Int, count: Int) -> UInt64 {
            (start..<(start + count)).reduce(UInt64(0)) { value, position in
                value << 1 | UInt64(bytes[position >> 3] >> (7 - UInt8(position & 7)) & 1)
            }
        }
        for start in 0..<(bytes.count * 8) {
            for count in 0...min(64, bytes.count * 8 - start) {
                var reader = BitReader(bytes)
                _ = try reader.bits(start % 64)
                for _ in 0..<(start / 64) { _ = try reader.bits(64) }
                #expect(try reader.bits(count) == bitByBit(from: start, count: count), "start \(start), count \(count)")
            }
        }
        var reader = BitReader(bytes, startingAt: 11)
        #expect(throws: ChunkFormatError.truncated(needed: 9, left: 8)) { try reader.bits(9) }
    }
}

struct StreamFramesTests {
    static func frame(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var length = UInt64(message.count)
        while length >= 0x80 {
            out.append(UInt8(length & 0x7f) | 0x80)
            length >>= 7
        }
        out.append(UInt8(length))
        let crc = CRC32C.checksum(message)
        out += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc & 0xff)]
        return out + message
    }

    @Test func messagesComeOutWholeHoweverTheBytesArrive() throws {
        let first = Array(repeating: UInt8(7), count: 300), second: [UInt8] = [1, 2, 3]
        let stream = Self.frame(first) + Self.frame(second) + Self.frame([])
        var frames = StreamFrames()
        var messages: [[UInt8]] = []
        for byte in stream {
            frames.append([byte])
            while let message = try frames.next() { messages.append(message) }
        }
        try frames.finish()
        #expect(messages == [first, second, []])
    }

    @Test func aCorruptMessageIsAChecksumError() throws {
        var stream = Self.frame([1, 2, 3, 4])
        stream[stream.count - 1] ^= 0xff
        var frames = StreamFrames()
        frames.append(stream)
        #expect(throws: StreamFrames.Failure.self) { _ = try frames.next() }
    }

    @Test func aStreamCutInsideAFrameIsTruncated() throws {
        var frames = StreamFrames()
        frames.append(Self.frame([9, 9, 9, 9]).dropLast(2))
        #expect(try frames.next() == nil)
        #expect(throws: StreamFrames.Failure.truncated(7)) { try frames.finish() }
    }

    @Test func anAbsurdLengthIsRefusedBeforeBuffering() {
        var frames = StreamFrames(maxFrameBytes: 1024)
        frames.append([0xff, 0xff, 0xff, 0x7f])
        #expect(throws: StreamFrames.Failure.frameTooLarge(268_435_455)) { _ = try frames.next() }
    }
}

struct XORChunkTests {
    /// The first bytes of a chunk Prometheus 2.42 returned (recorded in the reference notes): t =
    /// 1700000000000, v = 10.0, then a 15 s delta; here cut to two samples, the second value unchanged.
    @Test func aChunkFromPrometheus() throws {
        let chunk: [UInt8] = [0x00, 0x02, 0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, 0x40, 0x24, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00]
        let samples = try XORChunk.decode(chunk)
        #expect(samples.map(\.timestamp) == [1_700_000_000_000, 1_700_000_015_000])
        #expect(samples.map(\.value) == [10, 10])
    }

    @Test func roundTripsEveryTimestampBucketAndValueWindow() throws {
        var samples: [(Int64, Double)] = []
        var t: Int64 = 1_700_000_000_000
        let steps: [Int64] = [15000, 15000, 15001, 14000, 30000, 8_000_000, 15000, 600_000_000, 15000, 15000, -5]
        let values: [Double] = [10, 10, 10.5, -3.25, 0, .infinity, 1e300, 42, 42, 7.000001, 3, 3]
        samples.append((t, values[0]))
        for (index, step) in steps.enumerated() {
            t += step
            samples.append((t, values[index + 1]))
        }
        let decoded = try XORChunk.decode(TestXOREncoder.encode(samples))
        #expect(decoded.map(\.timestamp) == samples.map(\.0))
        #expect(decoded.map(\.value) == samples.map(\.1))
    }

    @Test func truncatedChunksAreErrors() throws {
        let chunk = TestXOREncoder.encode([(0, 1), (1000, 2), (2000, 3)])
        #expect(throws: ChunkFormatError.self) { _ = try XORChunk.decode(Array(chunk.dropLast(3))) }
        #expect(throws: ChunkFormatError.tooShort(1)) { _ = try XORChunk.decode([0]) }
    }
}

/// Prometheus' XOR encoder (tsdb/chunkenc/xor.go) rewritten for the round-trip test.
enum TestXOREncoder {
    struct Bits {
        var bytes: [UInt8] = []
        var used = 8
        mutating func write(_ value: UInt64, _ count: Int) {
            for index in stride(from: count - 1, through: 0, by: -1) {
                if used == 8 { bytes.append(0); used = 0 }
                if (value >> UInt64(index)) & 1 == 1 { bytes[bytes.count - 1] |= 0x80 >> UInt8(used) }
                used += 1
            }
        }
        mutating func uvarint(_ value: UInt64) {
            var value = value
            while value >= 0x80 { write(value & 0x7f | 0x80, 8); value >>= 7 }
            write(value, 8)
        }
    }

    static func encode(_ samples: [(Int64, Double)]) -> [UInt8] {
        var bits = Bits()
        var previousT: Int64 = 0, delta: Int64 = 0, previousV: UInt64 = 0
        var leading: UInt64 = 0xff, trailing: UInt64 = 0
        for (index, (t, v)) in samples.enumerated() {
            let value = v.bitPattern
            if index == 0 {
                bits.uvarint(UInt64(bitPattern: (t << 1) ^ (t >> 63)))
                bits.write(value, 64)
            } else {
                let newDelta = t - previousT
                if index == 1 {
                    bits.uvarint(UInt64(bitPattern: newDelta))
                } else {
                    let dod = newDelta - delta
                    func fits(_ size: Int) -> Bool { -(Int64(1) << (size - 1)) + 1 <= dod && dod <= Int64(1) << (size - 1) }
                    if dod == 0 { bits.write(0, 1) }
                    else if fits(14) { bits.write(0b10, 2); bits.write(UInt64(bitPattern: dod) & ((1 << 14) - 1), 14) }
                    else if fits(17) { bits.write(0b110, 3); bits.write(UInt64(bitPattern: dod) & ((1 << 17) - 1), 17) }
                    else if fits(20) { bits.write(0b1110, 4); bits.write(UInt64(bitPattern: dod) & ((1 << 20) - 1), 20) }
                    else { bits.write(0b1111, 4); bits.write(UInt64(bitPattern: dod), 64) }
                }
                delta = newDelta
                let xor = value ^ previousV
                if xor == 0 {
                    bits.write(0, 1)
                } else {
                    var newLeading = UInt64(xor.leadingZeroBitCount), newTrailing = UInt64(xor.trailingZeroBitCount)
                    if newLeading >= 32 { newLeading = 31 }
                    if leading != 0xff, newLeading >= leading, newTrailing >= trailing {
                        bits.write(0b10, 2)
                        bits.write(xor >> trailing, Int(64 - leading - trailing))
                    } else {
                        leading = newLeading
                        trailing = newTrailing
                        bits.write(0b11, 2)
                        bits.write(newLeading, 5)
                        let significant = 64 - newLeading - newTrailing
                        bits.write(significant == 64 ? 0 : significant, 6)
                        bits.write(xor >> newTrailing, Int(significant))
                    }
                }
            }
            previousT = t
            previousV = value
        }
        return [UInt8(samples.count >> 8), UInt8(samples.count & 0xff)] + bits.bytes
    }
}
