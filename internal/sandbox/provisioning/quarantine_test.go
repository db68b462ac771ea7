package provisioning

import (
	"testing"
	"time"
)

func TestEscrowReason(t *testing.T) {
	for _, tc := range []struct {
		failed, objects int64
		want            string
	}{
		{0, 0, ""},
		{4999, 4999, ""},                        // every entry failed, but fewer than 5,000
		{5000, 5000, ReasonEscrowProportion},    // 100%
		{5000, 12500, ""},                       // exactly 40%: not more than
		{5000, 12499, ReasonEscrowProportion},   // just over 40%
		{40000, 200000, ""},                     // 20%, and not more than 40,000
		{40001, 200000, ReasonTotalEscrow},      // 20%, but more than 40,000
		{50000, 100000, ReasonEscrowProportion}, // both: the proportion is reported
	} {
		if got := escrowReason(tc.failed, tc.objects); got != tc.want {
			t.Errorf("escrowReason(%d, %d) = %q, want %q", tc.failed, tc.objects, got, tc.want)
		}
	}
}

func TestQuarantineBackoff(t *testing.T) {
	want := []time.Duration{6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	for n, w := range want {
		if got := QuarantineBackoff(int64(n)); got != w {
			t.Errorf("QuarantineBackoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := QuarantineBackoff(100); got != 24*time.Hour {
		t.Errorf("QuarantineBackoff(100) = %v, want daily", got)
	}
}

func TestDeleteThreshold(t *testing.T) {
	for raw, want := range map[string]int64{
		"": 0, "not json": 0, `{"DeleteThresholdEnabled":false,"DeleteThresholdValue":5}`: 0,
		`{"DeleteThresholdEnabled":true,"DeleteThresholdValue":5}`: 5, `{"DeleteThresholdEnabled":true,"DeleteThresholdValue":"7"}`: 7,
		`{"DeleteThresholdEnabled":true}`: 0,
	} {
		if got := deleteThreshold(raw); got != want {
			t.Errorf("deleteThreshold(%s) = %d, want %d", raw, got, want)
		}
	}
}
