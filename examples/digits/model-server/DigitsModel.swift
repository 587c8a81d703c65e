import Foundation

/// A multinomial logistic-regression classifier read from the JSON `train.py` writes:
/// `probabilities = softmax(W·x + b)` over 64 pixel values (8x8, row-major, 0..16, ink high).
///
/// Plain arithmetic on a few hundred weights is all the example needs; a real model server would
/// hand the tensor to an ML runtime. The arithmetic is done in `Double` so that large inputs do
/// not overflow before the softmax.
struct DigitsModel: Sendable {
    var name: String
    var version: String
    var classes: [Int]
    var weights: [[Double]]
    var bias: [Double]
    var testAccuracy: Double?
    var features: Int { weights.first?.count ?? 0 }

    private struct Document: Decodable {
        var name: String
        var version: String
        var classes: [Int]
        var weights: [[Double]]
        var bias: [Double]
        var test_accuracy: Double?
    }

    /// Reads and checks a model file; every error message names the file and what is wrong with it.
    init(contentsOf path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFileError("\(path): no such file")
        }
        guard !isDirectory.boolValue else {
            throw ModelFileError("\(path) is a directory; pass the model's JSON file, e.g. \(path)/digits-v2.json")
        }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            throw ModelFileError("\(path) is not a model file: \(error.summary)")
        }
        guard !document.classes.isEmpty,
              document.weights.count == document.classes.count,
              document.bias.count == document.classes.count
        else {
            throw ModelFileError("\(path): weights (\(document.weights.count) rows) and bias (\(document.bias.count)) must have one entry per class (\(document.classes.count))")
        }
        guard let features = document.weights.first?.count, features > 0,
              document.weights.allSatisfy({ $0.count == features })
        else {
            throw ModelFileError("\(path): every row of weights must have the same, non-zero length")
        }
        name = document.name
        version = document.version
        classes = document.classes
        weights = document.weights
        bias = document.bias
        testAccuracy = document.test_accuracy
    }

    /// Class probabilities for one input of `features` values.
    func probabilities(_ input: ArraySlice<Double>) -> [Double] {
        let logits = zip(weights, bias).map { row, b in
            zip(row, input).reduce(b) { $0 + $1.0 * $1.1 }
        }
        // Subtracting the largest logit keeps exp() finite without changing the softmax.
        let largest = logits.max() ?? 0
        let exps = logits.map { exp($0 - largest) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }
}

struct ModelFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension DecodingError {
    /// "weights[3]: expected a number" instead of Foundation's long debug description.
    var summary: String {
        func path(_ context: Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "" : String(path.drop(while: { $0 == "." })) + ": "
        }
        switch self {
        case .keyNotFound(let key, let context): return "\(path(context))missing \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return path(context) + context.debugDescription
        @unknown default: return "\(self)"
        }
    }
}

/// A request that cannot be answered, with the HTTP status and a message for the client.
struct RequestError: Error {
    var status: Int
    var message: String
}

/// The one input tensor of a KServe V2 inference request, checked against the model.
///
/// Parsed with `JSONSerialization` rather than `Codable` because V2 allows `data` to be flat or
/// nested to the tensor's shape, and both are flattened to row-major order.
struct InferenceRequest {
    var id: String?
    var rows: Int
    var data: [Double]

    init(json body: Data, features: Int) throws(RequestError) {
        func bad(_ message: String) -> RequestError { RequestError(status: 400, message: message) }
        guard let object = try? JSONSerialization.jsonObject(with: body) else {
            throw bad("the body is not valid JSON")
        }
        guard let request = object as? [String: Any] else { throw bad("the body must be a JSON object with \"inputs\"") }
        id = request["id"] as? String
        guard let inputs = request["inputs"] as? [Any] else { throw bad("\"inputs\" is missing or not an array") }
        guard inputs.count == 1, let input = inputs[0] as? [String: Any] else {
            throw bad("expected exactly one input tensor in \"inputs\", got \(inputs.count)")
        }
        let name = input["name"] as? String ?? "input-0"
        guard let datatype = input["datatype"] as? String else { throw bad("\(name): \"datatype\" is missing") }
        guard datatype == "FP32" else { throw bad("\(name): datatype is \(datatype); this model takes FP32") }
        guard let shape = input["shape"] as? [Any], case let dims = shape.compactMap({ $0 as? Int }), dims.count == shape.count else {
            throw bad("\(name): \"shape\" is missing or not an array of integers")
        }
        guard dims.count == 2, dims[0] >= 1, dims[1] == features else {
            throw bad("\(name): shape is \(dims); this model takes [N, \(features)] with N >= 1")
        }
        guard let nested = input["data"] else { throw bad("\(name): \"data\" is missing") }
        var flat: [Double] = []
        flat.reserveCapacity(dims[0] * features)
        guard Self.flatten(nested, into: &flat) else {
            throw bad("\(name): \"data\" must hold only finite numbers, flat or nested in arrays")
        }
        guard flat.count == dims[0] * features else {
            throw bad("\(name): shape \(dims) needs \(dims[0] * features) values, \"data\" has \(flat.count)")
        }
        rows = dims[0]
        data = flat
    }

    private static func flatten(_ value: Any, into flat: inout [Double]) -> Bool {
        if let array = value as? [Any] {
            return array.allSatisfy { flatten($0, into: &flat) }
        }
        guard let number = value as? Double, number.isFinite else { return false }
        flat.append(number)
        return true
    }
}
