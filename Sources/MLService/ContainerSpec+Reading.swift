import ConfigFields
import ThawVocabulary

extension ContainerSpec {
    static let ignoredFields = ["image", "imagePullPolicy", "resources", "ports", "volumeMounts", "livenessProbe",
                                "securityContext"]

    /// Reads one entry of `containers`, checking that its templates parse.
    init(_ reader: FieldReader, baseDirectory: String, notes: inout [ConfigError]) throws {
        try reader.accept(used: ["name", "command", "args", "env", "workingDir", "readinessProbe"], ignored: Self.ignoredFields,
                          because: "replicas run the command as a process on this machine, not in a container", notes: &notes)
        self.init(name: try reader.string("name"), command: try reader.templates("command") ?? [],
                  args: try reader.templates("args") ?? [])
        for entry in try reader.objectList("env") ?? [] {
            try entry.rejectUnknown(allowed: ["name", "value"])
            guard let name = try entry.string("name"), !name.isEmpty else {
                throw entry.error("missing field \(entry.quoted("name")) (the variable's name)")
            }
            let value = try entry.text("value") ?? ""
            try entry.checkTemplate(value, field: "value")
            env.append(EnvVar(name: name, value: value))
        }
        image = try reader.string("image")
        if let directory = try reader.string("workingDir"), !directory.isEmpty {
            workingDirectory = FieldReader.absolutePath(directory, baseDirectory: baseDirectory)
        }
        if let probe = try reader.object("readinessProbe") {
            try probe.accept(used: ["httpGet", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"],
                             ignored: ["successThreshold", "exec", "tcpSocket", "grpc"],
                             because: "local mode probes the model server over HTTP, and a replica that passes once is ready",
                             notes: &notes)
            readinessTiming = try Self.timing(probe)
            if let get = try probe.object("httpGet") {
                try get.accept(used: ["path"], ignored: ["port", "host", "scheme", "httpHeaders"],
                               because: "local mode probes the port it gives the model server, over plain HTTP", notes: &notes)
                if let path = try get.string("path") {
                    guard path.hasPrefix("/") else {
                        throw get.error("field \(get.quoted("path")) must be a path starting with /, got \"\(path)\"", at: "path")
                    }
                    readinessPath = path
                }
            }
        }
    }

    /// The probe's timing fields, each within what Kubernetes accepts and at most an hour, with
    /// Kubernetes' defaults for those not set.
    private static func timing(_ probe: FieldReader) throws -> ProbeTiming {
        var timing = ProbeTiming()
        func seconds(_ key: String, from lowest: Int, _ set: (Duration) -> Void) throws {
            guard let value = try probe.count(key) else { return }
            guard value >= lowest, value <= 3600 else {
                throw probe.error("field \(probe.quoted(key)) must be whole seconds from \(lowest) to 3600, got \(value)", at: key)
            }
            set(.seconds(value))
        }
        try seconds("initialDelaySeconds", from: 0) { timing.initialDelay = $0 }
        try seconds("periodSeconds", from: 1) { timing.period = $0 }
        try seconds("timeoutSeconds", from: 1) { timing.timeout = $0 }
        if let threshold = try probe.count("failureThreshold") {
            guard (1...100).contains(threshold) else {
                throw probe.error("field \(probe.quoted("failureThreshold")) must be from 1 to 100, got \(threshold)", at: "failureThreshold")
            }
            timing.failureThreshold = threshold
        }
        return timing
    }
}
