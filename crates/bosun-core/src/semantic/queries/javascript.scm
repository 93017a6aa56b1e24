; JavaScript-only definitions (appended to ecmascript.scm).

; Class fields holding functions: `onClick = () => { … }`.
(field_definition
  property: (_) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @def.function

; CommonJS exports: `module.exports = { load, save }`, `module.exports.load = load`,
; `exports.load = load`. The exported local name is what counts.
(program
  (expression_statement
    (assignment_expression
      left: (member_expression
        object: (identifier) @_module
        property: (property_identifier) @_exports)
      right: (object (shorthand_property_identifier) @exported)))
  (#eq? @_module "module")
  (#eq? @_exports "exports"))

(program
  (expression_statement
    (assignment_expression
      left: (member_expression
        object: (member_expression
          object: (identifier) @_module
          property: (property_identifier) @_exports))
      right: (identifier) @exported))
  (#eq? @_module "module")
  (#eq? @_exports "exports"))

(program
  (expression_statement
    (assignment_expression
      left: (member_expression object: (identifier) @_exports)
      right: (identifier) @exported))
  (#eq? @_exports "exports"))
