package pluginserver

import (
	"os"
	runtimedebug "runtime/debug"
)

// Tune sets the process up as the provider runs: its soft memory limit and collector pace (unless
// GOMEMLIMIT and GOGC say otherwise), and no logs that Terraform would throw away.
func Tune() {
	if os.Getenv("GOMEMLIMIT") == "" {
		runtimedebug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		runtimedebug.SetGCPercent(gcPercent)
	}
	silenceUnseenLogs()
}

// memoryLimit is the soft heap limit the provider runs under unless GOMEMLIMIT says otherwise.
// What a run keeps is small (an app's assignments, a listing of the directory: a few MB at 5,000),
// but refreshing and planning thousands of instances makes garbage quickly, and with Go's default
// (collect when the heap doubles) a plan of 1,000 assignments peaked at 170 MB resident. Under the
// limit the collector runs sooner instead.
const memoryLimit = 48 << 20

// gcPercent is the collector's pace unless GOGC says otherwise: collect when the heap has grown by
// four times what survived the last collection, instead of once. What a run keeps is a few MB, and
// each request leaves about 25 KB of garbage (the loggers terraform-plugin-go builds per request), so
// at Go's default the collector ran every few hundred requests. The memory limit above still
// bounds the heap.
const gcPercent = 400

// sdkLogLevelEnv are the variables that set the provider's and its SDK's log levels; each defaults
// to TRACE, whatever Terraform does with the lines.
var sdkLogLevelEnv = []string{"TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"}

// silenceUnseenLogs turns the provider's logs off when Terraform will throw them away: Terraform
// (and OpenTofu) show a provider's log lines only with TF_LOG or TF_LOG_PROVIDER set, yet the
// provider logs at TRACE by default, and Terraform parses each line before discarding it. In a plan
// of 5,000 assignments that was well over half the provider's CPU time (the framework traces each
// map element), and Terraform's own work parsing it. Any of the variables set keeps the default.
func silenceUnseenLogs() {
	for _, name := range append([]string{"TF_LOG", "TF_LOG_PROVIDER_ENTRANETSKOPE"}, sdkLogLevelEnv...) {
		if os.Getenv(name) != "" {
			return
		}
	}
	for _, name := range sdkLogLevelEnv {
		_ = os.Setenv(name, "OFF")
	}
}
