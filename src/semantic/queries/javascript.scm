; JavaScript-only definitions (appended to ecmascript.scm).

; Class fields holding functions: `onClick = () => { … }`.
(field_definition
  property: (_) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @def.function
