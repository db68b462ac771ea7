package pluginserver

import (
	"os"
	"testing"
)

// With neither TF_LOG nor TF_LOG_PROVIDER set, Terraform discards whatever the provider logs: the
// provider then does not log at all. Any logging variable set leaves every level as it is.
func TestSilenceUnseenLogs(t *testing.T) {
	all := append([]string{"TF_LOG", "TF_LOG_PROVIDER_ENTRANETSKOPE"}, sdkLogLevelEnv...)
	for _, set := range append([]string{""}, all...) {
		t.Run("set="+set, func(t *testing.T) {
			for _, name := range all {
				t.Setenv(name, "")
			}
			if set != "" {
				t.Setenv(set, "TRACE")
			}
			silenceUnseenLogs()
			for _, name := range sdkLogLevelEnv {
				want := "OFF"
				if set != "" {
					want = map[bool]string{true: "TRACE", false: ""}[name == set]
				}
				if got := os.Getenv(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}
