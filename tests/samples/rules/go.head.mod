module example.com/app

go 1.23

require (
	github.com/pkg/errors v0.9.1
	golang.org/x/sys v0.20.0
	github.com/new/lib v1.2.0
)

replace github.com/pkg/errors => ../errors
