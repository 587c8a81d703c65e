import CSnappy

/// Snappy block compression, as remote read uses it for request bodies and SAMPLES responses.
public enum Snappy {
    public struct Corrupt: Error, CustomStringConvertible {
        public var description: String { "the body is not valid snappy-compressed data" }
    }

    /// The body's snappy header claims more than the caller allows; nothing was allocated for it.
    public struct TooLarge: Error, CustomStringConvertible {
        public var claimed: Int
        public var limit: Int
        public var description: String { "the body would expand to \(claimed) bytes, over the limit of \(limit)" }
    }

    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var length = snappy_max_compressed_length(input.count)
        var output = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                snappy_compress(source.baseAddress?.assumingMemoryBound(to: CChar.self), input.count,
                                target.baseAddress!.assumingMemoryBound(to: CChar.self), &length)
            }
        }
        precondition(status == SNAPPY_OK, "snappy_compress failed with a buffer of snappy_max_compressed_length")
        output.removeSubrange(length...)
        return output
    }

    /// Decompresses, refusing bodies that would expand beyond `limit` bytes.
    public static func decompress(_ input: [UInt8], limit: Int = 512 * 1024 * 1024) throws -> [UInt8] {
        var length = 0
        let known = input.withUnsafeBytes { source in
            snappy_uncompressed_length(source.baseAddress?.assumingMemoryBound(to: CChar.self), input.count, &length)
        }
        guard known == SNAPPY_OK else { throw Corrupt() }
        guard length <= limit else { throw TooLarge(claimed: length, limit: limit) }
        var output = [UInt8](repeating: 0, count: max(length, 1))
        let status = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                snappy_uncompress(source.baseAddress?.assumingMemoryBound(to: CChar.self), input.count,
                                  target.baseAddress!.assumingMemoryBound(to: CChar.self), &length)
            }
        }
        guard status == SNAPPY_OK else { throw Corrupt() }
        output.removeSubrange(length...)
        return output
    }
}
