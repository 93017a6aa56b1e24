#!/bin/sh
# Makes app.py print its data as JSON: one hunk adds `import json` at the top, another (far
# below) uses it. Approving the second without the first breaks the program.
set -e
{
    echo "import json"
    sed -e 's/^    print(DATA)$/    print(json.dumps(DATA))/' app.py
} > app.py.new
mv app.py.new app.py
echo "app.py prints JSON now"
