import MLService
import Testing

/// Messages that point at what to fix.
@Suite struct RuntimeMessageTests {
    @Test func aRuntimeWithArgsButNoCommandIsBlamedNotTheRelease() {
        // The seeds' runtimes set only args, for an image's entrypoint; the message once told the
        // release to "set model.runtime", which it had.
        let argsOnly = runtimeYAML.replacingOccurrences(of: "        command: [\"digits-model-server\"]\n", with: "")
        let message = failure(predictorYAML().replacingOccurrences(of: runtimeYAML, with: argsOnly))
        #expect(message.contains("MLServiceRuntime \"digits-runtime\" has no command (its containers[0] sets only args, for an image's entrypoint)"), "\(message)")
        #expect(message.contains("no image entrypoint"))
        #expect(message.contains("set spec.template.spec.containers[0].command in the runtime"))
        #expect(!message.contains("set \"spec.releases[0].predictor.model.runtime\""))
    }

    @Test func aCanaryWithoutAPercentageIsSaid() throws {
        let file = try parse(serviceYAML("""
              default: v1
              canary: v2
              releases:
              - {name: v1, predictor: {model: {runtime: digits-runtime}}}
              - {name: v2, predictor: {model: {runtime: digits-runtime}}}
            """))
        #expect(file.services[0].canaryTrafficPercent == 0)
        #expect(file.warnings.contains { $0.contains("the canary gets 0 % of the traffic; set canaryTrafficPercent") }, "\(file.warnings)")
    }
}
