import Foundation
import Testing
import ThawTestSupport

/// The example model server and transformer as real processes on 127.0.0.1, spoken to with curl.
@Suite(.timeLimit(.minutes(1)))
struct DigitsExampleTests {
    static let digits = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/digits")

    static func modelPath(_ version: String) -> String {
        digits.appendingPathComponent("model/digits-\(version).json").path
    }

    /// The committed sample images with the label in their names: digit-<label>-<index>.pgm.
    static func sampleImages() throws -> [(label: Int, url: URL)] {
        let directory = digits.appendingPathComponent("images")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("digit-") && $0.hasSuffix(".pgm") }
            .sorted()
            .map { name in (Int(name.split(separator: "-")[1])!, directory.appendingPathComponent(name)) }
    }

    @Test func modelServerIsLiveAtOnceAndReadyAfterItsLoadDelay() async throws {
        // A load long enough that the four checks below land before it ends, however busy the machine.
        let server = try await Server.model(["--model", Self.modelPath("v1"), "--load-delay", "10"])
        let early = try await curl(server.url("/v2/health/ready"))
        #expect(early.status == 503)
        #expect(early.body.contains("loading"))
        #expect(try await curl(server.url("/v2/models/digits/ready")).status == 503)
        #expect(try await curl(server.url("/v2/health/live")).status == 200)
        #expect(try await curl(server.url("/v2/models/digits/infer"), json: "{}").status == 503)

        let line = try await server.process.waitFor("ready (test accuracy", timeout: 30)
        #expect(line.hasPrefix("model digits v1 ready"))
        #expect(try await curl(server.url("/v2/health/ready")).status == 200)
        #expect(try await curl(server.url("/v2/models/digits/ready")).status == 200)
        let metadata = try await curl(server.url("/v2/models/digits"))
        #expect(metadata.status == 200)
        #expect(metadata.body.contains(#""shape":[-1,64]"#))
        #expect(metadata.body.contains(#""versions":["v1"]"#))
    }

    @Test func modelServerClassifiesTheSampleImages() async throws {
        let samples = try Self.sampleImages()
        #expect(samples.count >= 10)
        let rows = try samples.map { try modelInput(pgm: Data(contentsOf: $0.url)) }
        let request: [String: Any] = [
            "id": "samples",
            "inputs": [["name": "input-0", "shape": [rows.count, 64], "datatype": "FP32", "data": rows]],
        ]
        let server = try await Server.model(["--model", Self.modelPath("v2")])
        try await server.process.waitFor("ready")
        let response = try await curl(server.url("/v2/models/digits/infer"), json: request)
        #expect(response.status == 200, "\(response.body)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        #expect(answer["model_version"] as? String == "v2")
        #expect(answer["id"] as? String == "samples")
        let outputs = try #require(answer["outputs"] as? [[String: Any]])
        let labels = try #require(outputs.first { $0["name"] as? String == "label" }?["data"] as? [Int])
        let probabilities = try #require(outputs.first { $0["name"] as? String == "probabilities" }?["data"] as? [Double])
        #expect(probabilities.count == samples.count * 10)
        for row in 0..<samples.count {
            #expect(abs(probabilities[row * 10 ..< row * 10 + 10].reduce(0, +) - 1) < 1e-4)
        }
        let correct = zip(labels, samples).filter { $0 == $1.label }.count
        #expect(correct >= 8, "labels \(labels) for \(samples.map(\.label))")
    }

    @Test func modelServerAnswersBadRequestsWithAReason() async throws {
        let server = try await Server.model(["--model", Self.modelPath("v2")])
        try await server.process.waitFor("ready")
        let infer = server.url("/v2/models/digits/infer")
        func input(shape: [Int], datatype: String = "FP32", data: [Any]) -> [String: Any] {
            ["inputs": [["name": "input-0", "shape": shape, "datatype": datatype, "data": data]]]
        }
        let cases: [(body: Any, reason: String)] = [
            ("not json", "not valid JSON"),
            (["instances": []], "inputs"),
            (input(shape: [1, 63], data: Array(repeating: 0, count: 63)), "[N, 64]"),
            (input(shape: [2, 64], data: Array(repeating: 0, count: 64)), "needs 128 values"),
            (input(shape: [1, 64], datatype: "BYTES", data: Array(repeating: 0, count: 64)), "FP32"),
            (input(shape: [1, 64], data: Array(repeating: "x", count: 64)), "numbers"),
        ]
        for (body, reason) in cases {
            let response = try await curl(infer, json: body)
            #expect(response.status == 400, "\(body)")
            #expect(response.body.contains(reason), "\(response.body) should mention \(reason)")
        }
        let unknown = try await curl(server.url("/v2/models/mnist/infer"), json: input(shape: [1, 64], data: []))
        #expect(unknown.status == 404)
        #expect(unknown.body.contains("digits"))
        #expect(try await curl(infer).status == 405)
        #expect(try await curl(server.url("/v1/models/digits")).status == 404)
    }

    @Test func transformerClassifiesARawPGM() async throws {
        let model = try await Server.model(["--model", Self.modelPath("v1")])
        try await model.process.waitFor("ready")
        let transformer = try await Server.transformer(predictor: model.port)
        let infer = transformer.url("/v2/models/digits/infer")
        var correct = 0
        let samples = try Self.sampleImages()
        for sample in samples {
            let response = try await curl(infer, file: sample.url, contentType: "image/x-portable-graymap")
            #expect(response.status == 200, "\(response.body)")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            #expect(answer["model_version"] as? String == "v1")
            let prediction = try #require((answer["predictions"] as? [[String: Any]])?.first)
            let probability = try #require(prediction["probability"] as? Double)
            #expect(probability > 0 && probability <= 1)
            if prediction["label"] as? Int == sample.label { correct += 1 }
        }
        #expect(correct >= 8, "\(correct) of \(samples.count) right")
    }

    @Test func transformerTakesBase64Instances() async throws {
        let model = try await Server.model(["--model", Self.modelPath("v2")])
        try await model.process.waitFor("ready")
        let transformer = try await Server.transformer(predictor: model.port)
        let samples = try Self.sampleImages().prefix(2)
        let instances = try samples.map { ["image_b64": try Data(contentsOf: $0.url).base64EncodedString()] }
        let response = try await curl(transformer.url("/v2/models/digits/infer"), json: ["instances": instances])
        #expect(response.status == 200, "\(response.body)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        let predictions = try #require(answer["predictions"] as? [[String: Any]])
        #expect(predictions.count == 2)
        #expect(predictions.compactMap { $0["label"] as? Int } == samples.map(\.label))
    }

    @Test func transformerRejectsBadImages() async throws {
        let model = try await Server.model(["--model", Self.modelPath("v2")])
        let transformer = try await Server.transformer(predictor: model.port)
        let infer = transformer.url("/v2/models/digits/infer")
        let sample = try Data(contentsOf: try #require(Self.sampleImages().first).url)
        let cases: [(body: Data, reason: String)] = [
            (Data("GIF89a".utf8), "bad magic"),
            (sample.prefix(sample.count - 100), "truncated"),
            (Data("P5\n4 4\n255\n".utf8) + Data(count: 16), "wrong dimensions 4x4"),
            (Data("P2\n8 8\n255\n1 2 3".utf8), "truncated"),
        ]
        for (body, reason) in cases {
            let file = try temporaryFile(body)
            let response = try await curl(infer, file: file, contentType: "application/octet-stream")
            #expect(response.status == 400)
            #expect(response.body.contains(reason), "\(response.body) should mention \(reason)")
        }
        let badBase64 = try await curl(infer, json: ["instances": [["image_b64": "%%%"]]])
        #expect(badBase64.status == 400)
        #expect(badBase64.body.contains("base64"))
    }

    @Test func transformerPassesPredictorErrorsThrough() async throws {
        let model = try await Server.model(["--model", Self.modelPath("v2"), "--load-delay", "30"])
        let transformer = try await Server.transformer(predictor: model.port)
        let image = try #require(Self.sampleImages().first).url
        let loading = try await curl(transformer.url("/v2/models/digits/infer"), file: image)
        #expect(loading.status == 503)
        #expect(loading.body.contains("predictor answered 503: model digits is loading"))
    }

    @Test func transformerAnswers502WhenThePredictorIsDown() async throws {
        // A port that was just in use and is now closed: nothing listens there.
        let model = try await Server.model(["--model", Self.modelPath("v2")])
        model.process.signal(SIGTERM)
        #expect(try await model.process.waitForExit(timeout: 5) == 0)
        let transformer = try await Server.transformer(predictor: model.port)
        let image = try #require(Self.sampleImages().first).url
        let response = try await curl(transformer.url("/v2/models/digits/infer"), file: image)
        #expect(response.status == 502)
        #expect(response.body.contains("127.0.0.1:\(model.port)"))
        transformer.process.signal(SIGTERM)
        #expect(try await transformer.process.waitForExit(timeout: 5) == 0)
    }

    @Test func modelServerRefusesAMissingModelFile() async throws {
        let server = try TestProcess("digits-model-server", ["--port", "0", "--model", "/nonexistent/digits.json"])
        let status = try await server.waitForExit(timeout: 10)
        #expect(status != nil && status != 0)
        #expect(server.stderr.contains("/nonexistent/digits.json"))
    }
}

/// A started server and the port it printed.
struct Server {
    var process: TestProcess
    var port: Int

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    static func model(_ arguments: [String]) async throws -> Server {
        try await start("digits-model-server", ["--port", "0"] + arguments)
    }

    static func transformer(predictor port: Int) async throws -> Server {
        try await start("digits-transformer", ["--port", "0", "--predictor-host", "127.0.0.1:\(port)"])
    }

    private static func start(_ executable: String, _ arguments: [String]) async throws -> Server {
        let process = try TestProcess(executable, arguments)
        let line = try await process.waitFor("listening on", timeout: 10)
        let port = try #require(Int(line.split(separator: " ").last ?? ""))
        return Server(process: process, port: port)
    }
}

/// The 64 model inputs for a committed sample: a 32x32 P5 image of dark ink on a light
/// background, averaged over 4x4 blocks and turned back into scikit-learn's 0..16, ink high.
func modelInput(pgm: Data) throws -> [Double] {
    let bytes = [UInt8](pgm)
    let header = String(decoding: bytes.prefix(15), as: UTF8.self).split(whereSeparator: \.isWhitespace)
    try #require(header.count >= 4 && header[0] == "P5" && header[1] == "32" && header[2] == "32" && header[3] == "255")
    let pixels = bytes.suffix(32 * 32).map(Double.init)
    return (0..<64).map { cell in
        let (row, column) = (cell / 8 * 4, cell % 8 * 4)
        let block = (0..<16).map { pixels[(row + $0 / 4) * 32 + column + $0 % 4] }
        return (1 - block.reduce(0, +) / 16 / 255) * 16
    }
}

func temporaryFile(_ data: Data) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("digits-\(UUID().uuidString)")
    try data.write(to: url)
    return url
}

/// One request with curl: the status and the body. A JSON body is serialised first (a string is
/// sent as it is, to test bad JSON).
func curl(_ url: String, json: Any) async throws -> (status: Int, body: String) {
    let data = if let text = json as? String { Data(text.utf8) } else { try JSONSerialization.data(withJSONObject: json) }
    return try await curl(url, file: temporaryFile(data), contentType: "application/json")
}

func curl(_ url: String, file: URL? = nil, contentType: String? = nil) async throws -> (status: Int, body: String) {
    var arguments = ["-s", "--max-time", "10", "-w", "\n%{http_code}"]
    if let file { arguments += ["--data-binary", "@" + file.path] }
    if let contentType { arguments += ["-H", "content-type: \(contentType)"] }
    let process = try TestProcess(url: TestProcess.systemExecutable("curl"), arguments: arguments + [url], name: "curl")
    let status = try await process.waitForExit(timeout: 15)
    try #require(status == 0, "curl \(url) exited with \(status.map(String.init) ?? "nothing"): \(process.stderr)")
    let output = process.stdout
    let split = try #require(output.lastIndex(of: "\n"))
    return (Int(output[output.index(after: split)...]) ?? 0, String(output[..<split]))
}
