; Definitions in Python source, for bosun's structural annotations.
;
; Captures: @def.<kind> is the definition's node, @name its name, @body the block that is
; not signature. A function directly inside a class becomes a method. @exported is a name
; listed in the module's `__all__` (assigned or extended with a list or tuple of strings).

(function_definition name: (identifier) @name body: (block) @body) @def.function
(class_definition name: (identifier) @name body: (block) @body) @def.class

(module
  (expression_statement
    (assignment
      left: (identifier) @_all
      right: [
        (list (string (string_content) @exported))
        (tuple (string (string_content) @exported))
      ]))
  (#eq? @_all "__all__"))

(module
  (expression_statement
    (augmented_assignment
      left: (identifier) @_all
      right: [
        (list (string (string_content) @exported))
        (tuple (string (string_content) @exported))
      ]))
  (#eq? @_all "__all__"))
