module example.com/app

go 1.22

require (
	github.com/pkg/errors v0.9.1
	golang.org/x/sys v0.15.0 // indirect
)

require github.com/old/thing v1.0.0
