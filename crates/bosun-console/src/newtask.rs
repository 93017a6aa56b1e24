//! `n`: a new task — title, body, type and priority — appended to the task file (committed on
//! the target branch) and picked up by the scheduler like any open task.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::app::{Effect, centered};
use super::theme::Theme;
use crate::model::{Priority, TaskType};

/// Which part of the form has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The one-line title.
    Title,
    /// The body, several lines.
    Body,
    /// The task type (←/→).
    Type,
    /// The priority (←/→).
    Priority,
}

/// The form's state.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The title.
    pub title: TextArea<'static>,
    /// The body.
    pub body: TextArea<'static>,
    /// The chosen type.
    pub task_type: TaskType,
    /// The chosen priority.
    pub priority: Priority,
    /// The field with the keyboard.
    pub field: Field,
    /// Why the form cannot be sent yet.
    pub problem: Option<String>,
}

impl Default for NewTask {
    fn default() -> Self {
        let mut title = TextArea::default();
        title.set_placeholder_text("what should be done (one line)");
        let mut body = TextArea::default();
        body.set_placeholder_text("details, acceptance criteria, files to look at (optional)");
        Self {
            title,
            body,
            task_type: TaskType::Code,
            priority: Priority::Medium,
            field: Field::Title,
            problem: None,
        }
    }
}

/// What a key did to the form.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Still editing.
    Editing,
    /// Closed without a task.
    Cancelled,
    /// Send this effect and close.
    Done(Effect),
}

fn cycle<T: Copy + PartialEq>(all: &[T], now: T, forward: bool) -> T {
    let i = all.iter().position(|x| *x == now).unwrap_or(0);
    let n = all.len();
    all[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }]
}

impl NewTask {
    /// Handles a key: `tab`/`shift-tab` move between fields, `enter` in the title moves on,
    /// ←/→ change type and priority, `ctrl-s` (or `enter` on priority) adds the task, `esc`
    /// cancels.
    pub fn key(&mut self, key: KeyEvent) -> Outcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return Outcome::Cancelled,
            KeyCode::Char('s') if ctrl => return self.submit(),
            KeyCode::Tab => {
                self.field = self.next_field(true);
                return Outcome::Editing;
            }
            KeyCode::BackTab => {
                self.field = self.next_field(false);
                return Outcome::Editing;
            }
            _ => {}
        }
        match self.field {
            Field::Title => {
                if key.code == KeyCode::Enter {
                    self.field = Field::Body;
                } else {
                    self.title.input(key);
                }
            }
            Field::Body => {
                self.body.input(key);
            }
            Field::Type | Field::Priority => match key.code {
                KeyCode::Left | KeyCode::Right | KeyCode::Char('h') | KeyCode::Char('l') => {
                    let forward = matches!(key.code, KeyCode::Right | KeyCode::Char('l'));
                    if self.field == Field::Type {
                        self.task_type = cycle(&TaskType::ALL, self.task_type, forward);
                    } else {
                        self.priority = cycle(&Priority::ALL, self.priority, forward);
                    }
                }
                KeyCode::Enter if self.field == Field::Priority => return self.submit(),
                KeyCode::Enter => self.field = Field::Priority,
                _ => {}
            },
        }
        Outcome::Editing
    }

    fn next_field(&self, forward: bool) -> Field {
        const ORDER: [Field; 4] = [Field::Title, Field::Body, Field::Type, Field::Priority];
        cycle(&ORDER, self.field, forward)
    }

    fn submit(&mut self) -> Outcome {
        let title = self.title.lines().join(" ").trim().to_string();
        if title.is_empty() {
            self.problem = Some("give the task a title".into());
            self.field = Field::Title;
            return Outcome::Editing;
        }
        let body = self.body.lines().join("\n");
        Outcome::Done(Effect::AddTask {
            task: crate::api::NewTask {
                title,
                body,
                task_type: Some(self.task_type),
                priority: Some(self.priority),
            },
        })
    }
}

/// Draws the form over the screen.
pub fn render(form: &NewTask, t: &Theme, frame: &mut Frame<'_>) {
    let area = centered(frame.area(), 72, 14);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(" New task ")
        .border_style(t.accent());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [title_row, body_row, choice_row, help_row] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    let label = |text: &str, on: bool| {
        Span::styled(
            format!("{text:<9}"),
            if on { t.accent() } else { t.muted() },
        )
    };
    let mut field =
        |area: ratatui::layout::Rect, text: &TextArea<'static>, on: bool, name: &str| {
            let [l, f] =
                Layout::horizontal([Constraint::Length(9), Constraint::Min(1)]).areas(area);
            frame.render_widget(Paragraph::new(label(name, on)), l);
            let mut text = text.clone();
            text.set_style(t.text());
            text.set_cursor_line_style(Style::new());
            text.set_placeholder_style(t.muted());
            if !on {
                text.set_cursor_style(Style::new());
            }
            frame.render_widget(&text, f);
        };
    field(title_row, &form.title, form.field == Field::Title, "title");
    field(body_row, &form.body, form.field == Field::Body, "body");
    let choice = |value: String, on: bool| {
        if on {
            Span::styled(format!("‹ {value} ›"), t.accent())
        } else {
            Span::styled(format!("  {value}  "), t.text())
        }
    };
    let choices = Line::from(vec![
        label("type", form.field == Field::Type),
        choice(form.task_type.to_string(), form.field == Field::Type),
        Span::raw("   "),
        label("priority", form.field == Field::Priority),
        choice(form.priority.to_string(), form.field == Field::Priority),
    ]);
    frame.render_widget(Paragraph::new(choices), choice_row);
    let help = match &form.problem {
        Some(p) => Line::styled(p.clone(), Style::new().fg(t.warn)),
        None => Line::styled(
            "tab next field · ←/→ change · ctrl-s add · esc cancel",
            t.muted(),
        ),
    };
    frame.render_widget(Paragraph::new(help), help_row);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(form: &mut NewTask, code: KeyCode) -> Outcome {
        form.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(form: &mut NewTask, text: &str) {
        for c in text.chars() {
            press(form, KeyCode::Char(c));
        }
    }

    #[test]
    fn the_form_builds_a_task_item_and_needs_a_title() {
        let mut form = NewTask::default();
        assert_eq!(
            form.key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            Outcome::Editing
        );
        assert_eq!(form.problem.as_deref(), Some("give the task a title"));
        typed(&mut form, "Write the guide");
        press(&mut form, KeyCode::Enter);
        assert_eq!(form.field, Field::Body);
        typed(&mut form, "Cover setup.");
        press(&mut form, KeyCode::Tab);
        press(&mut form, KeyCode::Right);
        assert_eq!(form.task_type, TaskType::Docs);
        press(&mut form, KeyCode::Enter);
        assert_eq!(form.field, Field::Priority);
        press(&mut form, KeyCode::Left);
        assert_eq!(form.priority, Priority::High);
        match press(&mut form, KeyCode::Enter) {
            Outcome::Done(Effect::AddTask { task }) => assert_eq!(
                task,
                crate::api::NewTask {
                    title: "Write the guide".into(),
                    body: "Cover setup.".into(),
                    task_type: Some(TaskType::Docs),
                    priority: Some(Priority::High),
                }
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            press(&mut NewTask::default(), KeyCode::Esc),
            Outcome::Cancelled
        );
    }
}
