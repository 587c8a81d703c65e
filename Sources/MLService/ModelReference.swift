import ConfigFields

/// A predictor's `model`: the runtime that serves it, where the model is, and the runtime's template
/// parameters.
struct ModelReference: Sendable {
    var runtime: String?
    /// KServe's `modelFormat`: with no runtime named, the runtime is chosen by it.
    var format: ModelFormat?
    /// KServe's `protocolVersion`, which a chosen runtime must speak (v1 when unset).
    var protocolVersion: String?
    /// The absolute local path `modelUri` names.
    var path: String?
    var parameters: [String: String]

    init(runtime: String?, format: ModelFormat?, path: String?, parameters: [String: String] = [:], protocolVersion: String? = nil) {
        self.runtime = runtime
        self.format = format
        self.protocolVersion = protocolVersion
        self.path = path
        self.parameters = parameters
    }

    init(_ reader: FieldReader, baseDirectory: String) throws {
        try reader.rejectUnknown(allowed: ["runtime", "modelUri", "parameters", "modelFormat", "protocolVersion"])
        runtime = try reader.string("runtime")
        protocolVersion = try reader.string("protocolVersion")
        format = try Self.format(reader)
        parameters = try reader.stringMap("parameters") ?? [:]
        if let uri = try reader.string("modelUri") {
            path = try Self.localPath(uri, reader: reader, baseDirectory: baseDirectory)
        }
    }

    /// KServe's `modelFormat: {name, version}` of a `model` (MLService's or InferenceService's).
    static func format(_ model: FieldReader) throws -> ModelFormat? {
        guard let reader = try model.object("modelFormat") else { return nil }
        try reader.rejectUnknown(allowed: ["name", "version"])
        guard let name = try reader.string("name"), !name.isEmpty else {
            throw reader.error("missing field \(reader.quoted("name")) (the model format, e.g. sklearn)")
        }
        return ModelFormat(name: name, version: try reader.text("version"))
    }

    /// The path of a `file://` URI: `file://model/x.json` relative to the YAML file's directory,
    /// `file:///srv/x.json` absolute. Other schemes need storage that only a cluster provides.
    static func localPath(_ uri: String, reader: FieldReader, baseDirectory: String, field: String = "modelUri") throws -> String {
        let scheme = "file://"
        guard uri.lowercased().hasPrefix(scheme) else {
            throw reader.error("field \(reader.quoted(field)): local mode supports only file:// model URIs; got \"\(uri)\"; copy the model to this machine and use file://relative/path (relative to the YAML file's directory) or file:///absolute/path", at: field)
        }
        let path = String(uri.dropFirst(scheme.count))
        guard !path.isEmpty else {
            throw reader.error("field \(reader.quoted(field)) names no path; use file://relative/path (relative to the YAML file's directory) or file:///absolute/path", at: field)
        }
        return FieldReader.absolutePath(path, baseDirectory: baseDirectory)
    }
}
