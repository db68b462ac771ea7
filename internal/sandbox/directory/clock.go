package directory

import (
	"sync"
	"time"
)

// Clock is the sandbox's notion of now: real time plus an offset that only moves forward. Tests
// advance it (the admin API's clock/advance) to reach the hours and days Entra's provisioning works
// in (quarantine retries after 6 hours, disabling after 28 days) without waiting for them. The
// sandbox owns one Clock and hands it to every service that stamps or schedules.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewClock is a clock that reads real time until it is advanced.
func NewClock() *Clock { return &Clock{} }

// Now is the clock's time, in UTC.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

// Advance moves the clock forward by d; a negative d is ignored, since schedules assume time only
// moves forward.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	if d > 0 {
		c.offset += d
	}
	c.mu.Unlock()
	return c.Now()
}
