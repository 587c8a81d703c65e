/// A greyscale image decoded from a PGM file (Netpbm "P5" binary or "P2" ASCII, 8-bit).
///
/// PGM is the simplest format a scanner, ImageMagick or a drawing app can write, so the example
/// needs no image library; anything else can be converted with `convert in.png out.pgm`.
struct GreyImage {
    var width: Int
    var height: Int
    var maxValue: Int
    /// Row-major, 0 (black) ... maxValue (white).
    var pixels: [UInt8]

    /// Bounds memory per request; far larger than any digit needs.
    static let maxPixels = 4096 * 4096
    static let side = 8

    init(pgm bytes: [UInt8]) throws(ImageError) {
        var reader = HeaderReader(bytes: bytes)
        let magic = bytes.prefix(2)
        guard magic.elementsEqual("P5".utf8) || magic.elementsEqual("P2".utf8) else {
            let shown = String(decoding: magic, as: UTF8.self).unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "?" }.joined()
            throw ImageError("bad magic \"\(shown)\": expected a PGM image (P5 or P2)")
        }
        let binary = magic.last == UInt8(ascii: "5")
        reader.position = 2
        guard let width = reader.number(), let height = reader.number(), let maxValue = reader.number() else {
            throw ImageError("bad PGM header: expected width, height and maxval as decimal numbers")
        }
        guard width >= Self.side, height >= Self.side else {
            throw ImageError("wrong dimensions \(width)x\(height): the image must be at least \(Self.side)x\(Self.side) pixels")
        }
        guard width <= Self.maxPixels / height else {
            throw ImageError("wrong dimensions \(width)x\(height): the image must have at most \(Self.maxPixels) pixels")
        }
        guard (1...255).contains(maxValue) else {
            throw ImageError("maxval \(maxValue) is not supported: only 8-bit PGM (maxval 1..255)")
        }
        let count = width * height
        if binary {
            // Exactly one whitespace byte separates maxval from the raster, which may start with
            // bytes that look like whitespace.
            let start = reader.position + 1
            let available = max(0, bytes.count - start)
            guard available >= count else {
                throw ImageError("truncated data: \(width)x\(height) needs \(count) pixel bytes, got \(available)")
            }
            pixels = Array(bytes[start ..< start + count])
        } else {
            pixels = []
            pixels.reserveCapacity(count)
            while pixels.count < count {
                guard let value = reader.number() else {
                    throw reader.atEnd
                        ? ImageError("truncated data: \(width)x\(height) needs \(count) pixel values, got \(pixels.count)")
                        : ImageError("bad pixel value after \(pixels.count) values: expected a decimal number")
                }
                guard value <= maxValue else { throw ImageError("pixel value \(value) is above maxval \(maxValue)") }
                pixels.append(UInt8(value))
            }
        }
        guard pixels.allSatisfy({ Int($0) <= maxValue }) else {
            throw ImageError("pixel values above maxval \(maxValue)")
        }
        self.width = width
        self.height = height
        self.maxValue = maxValue
    }

    /// The 64 inputs the model expects: the image area-averaged down to 8x8, inverted from dark
    /// ink on a light background to ink high, and scaled to 0...16 like scikit-learn's digits.
    ///
    /// Each output cell averages the source pixels it covers, weighting those it covers only in
    /// part, so any size works, not just multiples of eight.
    func modelInput() -> [Double] {
        let side = Self.side
        func spans(_ length: Int) -> [[(index: Int, weight: Double)]] {
            (0..<side).map { cell in
                let start = Double(cell * length) / Double(side)
                let end = Double((cell + 1) * length) / Double(side)
                return (Int(start)..<Int(end.rounded(.up))).map { index in
                    (index, min(Double(index + 1), end) - max(Double(index), start))
                }
            }
        }
        let rows = spans(height), columns = spans(width)
        let cellArea = Double(height) / Double(side) * Double(width) / Double(side)
        var input: [Double] = []
        input.reserveCapacity(side * side)
        for row in rows {
            for column in columns {
                var sum = 0.0
                for (y, wy) in row {
                    for (x, wx) in column { sum += wy * wx * Double(pixels[y * width + x]) }
                }
                let lightness = sum / cellArea / Double(maxValue)
                input.append((1 - lightness) * 16)
            }
        }
        return input
    }
}

struct ImageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Reads the whitespace-separated decimal fields of a PGM header (and of a P2 raster), skipping
/// `#` comments.
private struct HeaderReader {
    let bytes: [UInt8]
    var position = 0

    var atEnd: Bool { position >= bytes.count }

    /// The next field, or nil at the end of the data or when the field is not a number.
    mutating func number() -> Int? {
        while position < bytes.count {
            if bytes[position] == UInt8(ascii: "#") {
                while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
            } else if Self.isSpace(bytes[position]) {
                position += 1
            } else {
                break
            }
        }
        var value = 0, digits = 0
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]), digits < 9 {
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
            digits += 1
        }
        guard digits > 0, position == bytes.count || Self.isSpace(bytes[position]) || bytes[position] == UInt8(ascii: "#") else {
            return nil
        }
        return value
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
            || byte == 0x0B || byte == 0x0C
    }
}
