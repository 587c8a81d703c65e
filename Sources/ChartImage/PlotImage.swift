/// A chart of replicas over time, one panel per policy stacked over a shared time axis, each with
/// the demand (in replicas) shaded behind it, rendered to PNG with no library beyond zlib.
public struct PlotImage: Sendable {
    public let width: Int
    public let height: Int
    private var pixels: [UInt8]

    enum Colour: UInt8, CaseIterable {
        case background, ink, demand, grid, series0, series1, series2, series3

        var rgb: (UInt8, UInt8, UInt8) {
            switch self {
            case .background: return (255, 255, 255)
            case .ink: return (30, 30, 30)
            case .demand: return (205, 205, 205)
            case .grid: return (235, 235, 235)
            case .series0: return (31, 119, 180)
            case .series1: return (214, 39, 40)
            case .series2: return (44, 160, 44)
            case .series3: return (148, 103, 189)
            }
        }

        static func series(_ index: Int) -> Colour { [.series0, .series1, .series2, .series3][index % 4] }
    }

    static let left = 56, right = 16, top = 52, panelHeight = 130, gap = 30, bottom = 40

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: Colour.background.rawValue, count: width * height)
    }

    /// Panels for `series` (name, replicas each second) over `demand` (replicas needed each second).
    public static func panels(title: String, demand: [Int], series: [(String, [Int])], width: Int = 960) -> PlotImage {
        let height = top + series.count * (panelHeight + gap) + bottom - gap
        var image = PlotImage(width: width, height: height)
        image.text(title, x: left, y: 10, colour: .ink)
        let seconds = max(1, max(demand.count, series.map(\.1.count).max() ?? 0))
        let highest = max(1, max(demand.max() ?? 0, series.flatMap(\.1).max() ?? 0))
        let step = Self.niceStep(for: highest)
        let yMax = ((highest + step - 1) / step) * step
        let plotWidth = width - left - right
        for (index, (name, values)) in series.enumerated() {
            let y0 = top + index * (panelHeight + gap)
            // Grid and y labels.
            for tick in stride(from: 0, through: yMax, by: step) {
                let y = y0 + panelHeight - tick * panelHeight / yMax
                image.line(x0: left, y0: y, x1: left + plotWidth, y1: y, colour: tick == 0 ? .ink : .grid)
                let label = String(tick)
                image.text(label, x: left - 8 - label.count * 6, y: y - 3, colour: .ink, scale: 1)
            }
            // Demand shaded, then the replicas as a line, each column the most of its seconds.
            var previous: Int?
            for column in 0..<plotWidth {
                let from = column * seconds / plotWidth, to = max(from + 1, (column + 1) * seconds / plotWidth)
                let need = demand[min(from, demand.count)..<min(to, demand.count)].max() ?? 0
                let x = left + column
                let base = y0 + panelHeight
                if need > 0 { image.line(x0: x, y0: base - need * panelHeight / yMax, x1: x, y1: base - 1, colour: .demand) }
                guard from < values.count else { continue }
                let count = values[from..<min(to, values.count)].max() ?? 0
                let y = base - count * panelHeight / yMax
                image.line(x0: x, y0: previous ?? y, x1: x, y1: y, colour: Colour.series(index))
                image.line(x0: x, y0: y + 1, x1: x, y1: y + 1, colour: Colour.series(index))
                previous = y
            }
            image.text(name.uppercased() + " REPLICAS", x: left + 6, y: y0 - 14, colour: Colour.series(index))
        }
        // The time axis under the last panel, in minutes.
        let axisY = top + series.count * (panelHeight + gap) - gap + 6
        let minutes = seconds / 60
        let minuteStep = max(1, Self.niceStep(for: max(1, minutes)))
        for minute in stride(from: 0, through: minutes, by: minuteStep) {
            let x = left + minute * 60 * plotWidth / seconds
            image.line(x0: x, y0: axisY - 4, x1: x, y1: axisY, colour: .ink)
            image.text(String(minute), x: x - 3, y: axisY + 4, colour: .ink, scale: 1)
        }
        image.text("MINUTES   (GREY: REPLICAS THE REQUESTS IN FLIGHT NEED)", x: left, y: axisY + 18, colour: .ink, scale: 1)
        return image
    }

    /// The smallest step of 1, 2 or 5 times a power of ten that gives at most six ticks.
    static func niceStep(for value: Int) -> Int {
        var power = 1
        while true {
            for factor in [1, 2, 5] where (value + factor * power - 1) / (factor * power) <= 6 { return factor * power }
            power *= 10
        }
    }

    public var png: [UInt8] {
        PNGEncoder.encode(width: width, height: height, palette: Colour.allCases.map(\.rgb), pixels: pixels)
    }

    /// The colour index at a pixel, for tests.
    public func colourIndex(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }

    mutating func set(_ x: Int, _ y: Int, _ colour: Colour) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        pixels[y * width + x] = colour.rawValue
    }

    /// Horizontal or vertical lines only: a chart needs no others.
    mutating func line(x0: Int, y0: Int, x1: Int, y1: Int, colour: Colour) {
        for x in min(x0, x1)...max(x0, x1) {
            for y in min(y0, y1)...max(y0, y1) { set(x, y, colour) }
        }
    }

    mutating func text(_ string: String, x: Int, y: Int, colour: Colour, scale: Int = 2) {
        var cursor = x
        for character in string.uppercased() {
            let rows = Glyphs.rows(for: character)
            for (row, bits) in rows.enumerated() {
                for column in 0..<5 where bits & (0x10 >> column) != 0 {
                    for dy in 0..<scale { for dx in 0..<scale { set(cursor + column * scale + dx, y + row * scale + dy, colour) } }
                }
            }
            cursor += 6 * scale
        }
    }
}

/// A 5x7 pixel font for the characters a chart's labels use.
enum Glyphs {
    static func rows(for character: Character) -> [UInt8] { table[character] ?? table[" "]! }

    static let table: [Character: [UInt8]] = [
        " ": [0, 0, 0, 0, 0, 0, 0],
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0], "-": [0, 0, 0, 0x1F, 0, 0, 0],
        "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        "_": [0, 0, 0, 0, 0, 0, 0x1F],
    ]
}
