import Testing
@testable import LocalMode
